"""Input rules shared by every entry point (CLI, flows, import): limits and normalisers.

The limits are documented in the README ("Input limits"); change them here only.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

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

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}\d{7,8}$")
_PLATE = re.compile(
    r"^[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]"
    r"[A-Z][A-Z0-9]{4,6}[挂学]?$"
)
UNIT_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"


def clean_text(value: str) -> str:
    """Strip surrounding whitespace; refuse control characters (binary input)."""
    if _CONTROL.search(value):
        raise ValueError("contains control characters or binary data")
    return value.strip()


def normalize_phone(value: str) -> str:
    """Digits only, +86 removed; a Chinese mobile (11 digits) or a landline with area code."""
    digits = re.sub(r"[\s\-()]", "", value)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if _MOBILE.match(digits) or _LANDLINE.match(digits):
        return digits
    raise ValueError(f"not a valid phone number: {value!r} (mobile 1xxxxxxxxxx or 0area-number)")


def normalize_plate(value: str) -> str:
    plate = re.sub(r"[\s·\-]", "", value).upper()
    if not _PLATE.match(plate):
        raise ValueError(f"not a valid plate number: {value!r} (e.g. 川B12345)")
    return plate


# Length limits apply to the raw value; `_not_blank` then strips it and refuses what is left
# empty, so "   " is refused as empty rather than accepted as blank.
def _not_blank(value: str) -> str:
    value = clean_text(value)
    if not value:
        raise ValueError("must not be empty")
    return value


ShortText = Annotated[str, Field(max_length=REASON_MAX), AfterValidator(_not_blank)]
LongText = Annotated[str, Field(max_length=DESCRIPTION_MAX), AfterValidator(_not_blank)]
NoteText = Annotated[str, Field(max_length=NOTE_MAX), AfterValidator(_not_blank)]
PersonName = Annotated[str, Field(max_length=NAME_MAX), AfterValidator(_not_blank)]
Reference = Annotated[str, Field(max_length=REF_MAX), AfterValidator(_not_blank)]
Phone = Annotated[str, Field(max_length=32), AfterValidator(normalize_phone)]
Plate = Annotated[str, Field(max_length=16), AfterValidator(normalize_plate)]
UnitCode = Annotated[str, Field(pattern=UNIT_CODE_PATTERN)]
UnitName = Annotated[str, Field(max_length=UNIT_NAME_MAX), AfterValidator(_not_blank)]
Respondent = Annotated[str, Field(max_length=RESPONDENT_MAX), AfterValidator(_not_blank)]
