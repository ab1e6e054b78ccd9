"""Masking of personal information (PIPL) for every document, notification and report.

Stored data stays whole; anything shown to people goes through these functions.

`mask_text` finds what a driver or a handler wrote into free text: mobile numbers (also with
+86 / 0086 / 86, spaces or dashes), landlines (028-12345678, (028)12345678, 028 1234 5678,
+86 28 12345678), 18-digit ID numbers and plates (川B12345, 川A·D12345, 川b 12345).
Full-width digits and letters (１３８…, Ｂ) are recognised as their ASCII forms, so writing a
number in full-width characters does not slip it past the mask.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

# Full-width forms (and the ideographic space) read as ASCII: one character for one, so the
# positions of a match in the folded text are its positions in the original.
_FOLD = str.maketrans(
    {
        **{chr(0xFF10 + i): str(i) for i in range(10)},
        **{chr(0xFF21 + i): chr(ord("A") + i) for i in range(26)},
        **{chr(0xFF41 + i): chr(ord("a") + i) for i in range(26)},
        "\uff0b": "+",  # ＋
        "\uff0d": "-",  # －
        "\uff08": "(",  # （
        "\uff09": ")",  # ）
        "\u3000": " ",  # ideographic space
        "\u2010": "-",  # hyphen
        "\u2011": "-",  # non-breaking hyphen
        "\u2012": "-",  # figure dash
        "\u2013": "-",  # en dash
        "\u2014": "-",  # em dash
        "\u00a0": " ",  # no-break space
    }
)
_SEP = r"[ \t-]?"
_COUNTRY = r"(?:\+|00)?86" + _SEP
_ID_IN_TEXT = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?!\d)")
# an optional +86 / 86 / 0086 country code is masked with the number
_PHONE_IN_TEXT = re.compile(
    rf"(?<!\d)(?:{_COUNTRY})?(1[3-9]\d){_SEP}(\d{{4}}){_SEP}(\d{{4}})(?!\d)"
)
# 028-12345678, (028)12345678, 0816 1234567, 028 1234 5678
_AREA = r"(?:10|2\d|[3-9]\d{2})"  # Chinese area codes without their 0: 10, 2x, 3xx-9xx
_LOCAL = rf"([1-9]\d{{2,3}}){_SEP}(\d{{4}})(?!\d)"  # 7 or 8 digits
_LANDLINE_IN_TEXT = re.compile(rf"(?<!\d)\(?(0{_AREA})\)?{_SEP}{_LOCAL}")
# +86 28 12345678, 0086-816-1234567, +86 (0)28 12345678: the area code without its 0
_LANDLINE_INTL_IN_TEXT = re.compile(
    rf"(?<![\d+])(?:\+|00)86{_SEP}(?:\(0\){_SEP})?\(?({_AREA})\)?{_SEP}{_LOCAL}"
)
_PLATE_IN_TEXT = re.compile(
    r"([京津沪渝冀豫云滇辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵黔粤青藏川宁琼使领][A-Za-z])"
    r"[ ·•.\-]?([A-Za-z0-9]{2,4})([A-Za-z0-9]{2})(?![A-Za-z0-9])"
)


def fold_width(text: str) -> str:
    """Full-width digits, letters, plus, dash and parentheses as their ASCII forms."""
    return text.translate(_FOLD)


def mask_phone(phone: str | None) -> str:
    """13812345678 -> 138****5678; a landline keeps its area code and last four digits."""
    if not phone:
        return ""
    digits = re.sub(r"\D", "", phone.translate(_FOLD))
    if len(digits) == 11 and digits.startswith("1"):
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) >= 8:
        return (
            f"{digits[:-8]}****{digits[-4:]}" if digits.startswith("0") else "*" * 4 + digits[-4:]
        )
    return "****"


def mask_plate(plate: str | None) -> str:
    """川B12345 -> 川B***45."""
    if not plate:
        return ""
    return plate[:2] + "*" * max(len(plate) - 4, 1) + plate[-2:]


def mask_name(name: str | None) -> str:
    """王建国 -> 王**; a single character stays as it is."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1)


def mask_id_number(id_number: str | None) -> str:
    """510104199001011234 -> 510104********1234."""
    if not id_number:
        return ""
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


def _sub(pattern: re.Pattern[str], mask: Callable[[re.Match[str]], str], text: str) -> str:
    """Replace each match of `pattern` in the folded text by `mask(match)`; everything else
    keeps its original characters."""
    folded = text.translate(_FOLD)
    parts: list[str] = []
    last = 0
    for match in pattern.finditer(folded):
        parts += [text[last : match.start()], mask(match)]
        last = match.end()
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


def mask_text(text: str) -> str:
    """Mask phone, ID and plate numbers that a driver or handler wrote into free text."""
    text = _sub(_ID_IN_TEXT, lambda m: f"{m.group(1)}********{m.group(2)}", text)
    text = _sub(_PHONE_IN_TEXT, lambda m: f"{m.group(1)}****{m.group(3)}", text)
    text = _sub(_LANDLINE_INTL_IN_TEXT, lambda m: f"0{m.group(1)}-****{m.group(3)}", text)
    text = _sub(_LANDLINE_IN_TEXT, lambda m: f"{m.group(1)}-****{m.group(3)}", text)
    return _sub(
        _PLATE_IN_TEXT,
        lambda m: f"{m.group(1).upper()}{'*' * len(m.group(2))}{m.group(3).upper()}",
        text,
    )


# What a phone, ID or plate number in a form becomes before it reaches Prefect: a reference into
# the engine database (`service.personal_refs`). Letters only, so no pattern above matches one.
REFERENCE = re.compile(r"pii:[A-Za-z]{12}")
_PERSONAL = (_ID_IN_TEXT, _PHONE_IN_TEXT, _LANDLINE_INTL_IN_TEXT, _LANDLINE_IN_TEXT, _PLATE_IN_TEXT)


def substitute_personal(text: str, replace: Callable[[str], str]) -> str:
    """Each phone, ID and plate number in `text` (as `mask_text` finds them) replaced by
    `replace(the number as written)`."""
    for pattern in _PERSONAL:
        folded = text.translate(_FOLD)  # full-width digits fold one character to one
        parts: list[str] = []
        last = 0
        for match in pattern.finditer(folded):
            parts += [text[last : match.start()], replace(text[match.start() : match.end()])]
            last = match.end()
        if parts:
            parts.append(text[last:])
            text = "".join(parts)
    return text


def mask_value(value: Any) -> Any:
    """`mask_text` applied to every string inside `value` (dicts, lists, nested): for the
    payloads of audit records, whose free text may sit a level down (a close's findings)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {key: mask_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(item) for item in value]
    return value
