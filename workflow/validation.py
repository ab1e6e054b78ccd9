"""Input rules shared by every entry point (CLI, flows, import): limits and normalisers.

The limits are documented in the README ("Input limits"); change them here only.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

from workflow.privacy import fold_width, mask_phone, mask_plate, mask_text

DESCRIPTION_MAX = 2000
NOTE_MAX = 2000
REASON_MAX = 500
NAME_MAX = 50
REF_MAX = 64
UNIT_NAME_MAX = 100
RESPONDENT_MAX = 100
EVIDENCE_MAX = 20
AMOUNT_MAX_YUAN = 100_000_000
EXTENSION_DAYS_MAX = 30

# C0 controls but tab and line feed (a carriage return is read as a line break), DEL, C1
# controls, the bidirectional overrides that reorder text on screen, non-characters, and lone
# surrogates (bytes that were not valid UTF-8): binary data, not text.
_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufffe\uffff\ud800-\udfff]"
)
# a phone and a plate as stored (the input may also carry separators, +86, full-width digits)
MOBILE_PATTERN = r"1[3-9][0-9]{9}"
LANDLINE_PATTERN = r"0[0-9]{2,3}[0-9]{7,8}"
PLATE_PATTERN = (
    r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-Z][A-Z0-9]{4,6}[挂学]?"
)
_MOBILE = re.compile(MOBILE_PATTERN)
_LANDLINE = re.compile(LANDLINE_PATTERN)
_PLATE = re.compile(PLATE_PATTERN)
# for pydantic (whose `$` is the end of the text); in Python use `is_unit_code`, since
# Python's `$` also matches before a final line feed ("ROAD\n")
UNIT_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
_UNIT_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
GRIEVANCE_NUMBER_PATTERN = r"^[0-9A-Za-z-]{1,32}$"
_GRIEVANCE_NUMBER = re.compile(r"[0-9A-Za-z-]{1,32}")


def is_unit_code(value: str) -> bool:
    """1-32 ASCII letters, digits, '-' or '_', starting with a letter or digit."""
    return _UNIT_CODE.fullmatch(value) is not None


def is_grievance_number(value: str) -> bool:
    """What a grievance number may look like (20261123-0001): ASCII letters, digits, '-'."""
    return _GRIEVANCE_NUMBER.fullmatch(value) is not None


_AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def plain_amount(value: object) -> object:
    """An amount typed as text: ASCII digits with an optional decimal point, nothing else.
    Decimal's own parsing would also take `1_000`, `1e3`, `NaN` and other scripts' digits
    (`٣٥٠٠`); those are refused. Numbers (a JSON form's) pass to the range checks."""
    if isinstance(value, str) and _AMOUNT.fullmatch(value.strip()) is None:
        raise ValueError(
            "use plain digits 0-9 with an optional decimal point, such as 3500 or 3500.50"
        )
    return value.strip() if isinstance(value, str) else value


def nfc(value: str) -> str:
    """The text in Unicode's composed form (NFC): "é" typed as e + a combining accent becomes
    one character, so a length limit counts what a reader sees, and equal names compare
    equal however they were typed."""
    return unicodedata.normalize("NFC", value)


def _composed(value: object) -> object:
    return nfc(value) if isinstance(value, str) else value


def has_binary(value: str) -> bool:
    """Does `value` hold control characters (other than tab and line breaks) or bytes that
    were not text?"""
    return _CONTROL.search(value) is not None


def clean_text(value: str) -> str:
    """Strip surrounding whitespace, read CR LF and CR as line feeds; refuse control
    characters (binary input)."""
    if has_binary(value):
        raise ValueError("contains control characters or binary data")
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def normalize_phone(value: str) -> str:
    """Digits only, +86 removed; a Chinese mobile (11 digits) or a landline with area code."""
    digits = re.sub(r"[\s\-()]", "", fold_width(value))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if _MOBILE.fullmatch(digits) or _LANDLINE.fullmatch(digits):
        return digits
    # the value is shown masked: a near-miss still holds most of someone's number
    shown = mask_text(value[:40])
    if re.search(r"[0-9]{7}", fold_width(shown)):
        shown = mask_phone(value[:40])
    raise ValueError(f"not a valid phone number: {shown!r} (mobile 1xxxxxxxxxx or 0area-number)")


def normalize_plate(value: str) -> str:
    plate = re.sub(r"[\s·\-]", "", fold_width(value)).upper()
    if not _PLATE.fullmatch(plate):
        raise ValueError(
            f"not a valid plate number: {mask_plate(value[:20])!r} "
            "(a province character, a letter, then 4-6 letters or digits)"
        )
    return plate


# Text is composed (NFC) first; the length limits then apply to the composed value, and
# `_not_blank` strips it and refuses what is left empty, so "   " is refused as empty rather
# than accepted as blank.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"  # zero-width characters: not content


def _not_blank(value: str) -> str:
    value = clean_text(value)
    if not value.strip(_INVISIBLE).strip():
        raise ValueError("must not be empty")
    return value


# free text: composed, then limited, then stripped and refused when empty
_Composed = BeforeValidator(_composed)
_NotBlank = AfterValidator(_not_blank)
ShortText = Annotated[str, _Composed, Field(max_length=REASON_MAX), _NotBlank]
LongText = Annotated[str, _Composed, Field(max_length=DESCRIPTION_MAX), _NotBlank]
NoteText = Annotated[str, _Composed, Field(max_length=NOTE_MAX), _NotBlank]
PersonName = Annotated[str, _Composed, Field(max_length=NAME_MAX), _NotBlank]
Reference = Annotated[str, _Composed, Field(max_length=REF_MAX), _NotBlank]
Phone = Annotated[str, Field(max_length=32), AfterValidator(normalize_phone)]
Plate = Annotated[str, Field(max_length=16), AfterValidator(normalize_plate)]
UnitCode = Annotated[str, Field(pattern=UNIT_CODE_PATTERN)]
UnitName = Annotated[str, _Composed, Field(max_length=UNIT_NAME_MAX), _NotBlank]
Respondent = Annotated[str, _Composed, Field(max_length=RESPONDENT_MAX), _NotBlank]
