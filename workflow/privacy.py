"""Masking of personal information (PIPL) for every document, notification and report.

Stored data stays whole; anything shown to people goes through these functions.
"""

from __future__ import annotations

import re

# an optional +86 / 86 / 0086 country code is masked with the number
_PHONE_IN_TEXT = re.compile(
    r"(?<!\d)(?:(?:\+|00)?86[\s-]?)?(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)"
)
_LANDLINE_IN_TEXT = re.compile(r"(?<!\d)(0\d{2,3})-?(\d{3,4})(\d{4})(?!\d)")
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
_PLATE_IN_TEXT = re.compile(
    r"([京津沪渝冀豫云滇辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵黔粤青藏川宁琼使领][A-Z])"
    r"([A-Z0-9]{2,4})([A-Z0-9]{2})(?![A-Z0-9])"
)


def mask_phone(phone: str | None) -> str:
    """13812345678 -> 138****5678; a landline keeps its area code and last four digits."""
    if not phone:
        return ""
    digits = re.sub(r"\D", "", phone)
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


def mask_text(text: str) -> str:
    """Mask phone, ID and plate numbers that a driver or handler wrote into free text."""
    text = _ID_IN_TEXT.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text)
    text = _PHONE_IN_TEXT.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    text = _LANDLINE_IN_TEXT.sub(lambda m: f"{m.group(1)}-****{m.group(3)}", text)
    text = _PLATE_IN_TEXT.sub(lambda m: f"{m.group(1)}{'*' * len(m.group(2))}{m.group(3)}", text)
    return text
