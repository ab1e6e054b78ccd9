"""Input rules: commands, limits, phone and plate numbers, times, masking."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Any

import pytest

from workflow.accounts import display_name
from workflow.actor import Actor
from workflow.commands import COMMANDS, Accept, parse_command
from workflow.errors import InvalidInput
from workflow.privacy import mask_id_number, mask_name, mask_phone, mask_plate, mask_text
from workflow.timeutil import iso, parse_instant
from workflow.validation import DESCRIPTION_MAX, NAME_MAX, REASON_MAX, normalize_phone
from workflow.vocab import Event, Role

GOOD: dict[str, Any] = {
    "channel": "hotline_12328",
    "ref": "12328-1",
    "type": "complaint",
    "category": "freight_unpaid",
    "name": "王师傅",
    "phone": "13812345678",
    "description": "欠运费",
}


def accept(**changes: Any) -> Accept:
    command = parse_command(Event.ACCEPT, {**GOOD, **changes})
    assert isinstance(command, Accept)
    return command


def test_every_event_has_a_command() -> None:
    assert set(COMMANDS) == set(Event)


def test_every_field_has_a_bilingual_title() -> None:
    for cls in COMMANDS.values():
        for name, info in cls.model_fields.items():
            title = info.title or ""
            assert any("\u4e00" <= ch <= "\u9fff" for ch in title), (cls.__name__, name)
            assert any(ch.isascii() and ch.isalpha() for ch in title), (cls.__name__, name)


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("13812345678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("0086 13812345678", "13812345678"),
        ("028-87654321", "02887654321"),
        ("0816 2345678", "08162345678"),
    ],
)
def test_phone_numbers_are_normalised(raw: str, stored: str) -> None:
    assert normalize_phone(raw) == stored


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "12345", "not a valid phone number"),
        ("phone", "23812345678", "not a valid phone number"),
        ("description", "", "must not be empty"),
        ("description", "   \n ", "must not be empty"),
        ("description", "x" * (DESCRIPTION_MAX + 1), "at most 2000"),
        ("description", "bad\x00bytes", "control characters"),
        ("category", "parking", "category"),
        ("channel", "wechat", "channel"),
        ("type", "rant", "type"),
        ("name", "", "must not be empty"),
        ("ref", "r" * 65, "at most 64"),
        ("plate", "ABC123", "not a valid plate"),
        ("amount", "-1", "plain digits"),
        ("amount", "12.345", "decimal places"),
        ("amount", "100000000.01", "less than or equal"),
        ("amount", "lots", "plain digits"),
        # Decimal's own parsing takes these; an amount is plain ASCII digits and a point
        ("amount", "1_000", "plain digits"),
        ("amount", "٣٥٠٠", "plain digits"),
        ("amount", "３５００", "plain digits"),
        ("amount", "1e3", "plain digits"),
        ("amount", "NaN", "plain digits"),
        ("amount", "3500.", "plain digits"),
        ("unexpected", "x", "Extra inputs"),
    ],
)
def test_bad_accept_input_is_refused_with_the_field_named(
    field: str, value: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        accept(**{field: value})
    text = str(raised.value)
    assert field in text and message.lower() in text.lower()
    assert "\n" not in text and "pydantic" not in text


def test_accept_normalises_and_keeps_sql_metacharacters_verbatim() -> None:
    command = accept(name=" 王'; DROP TABLE grievance;-- ", plate="川b 12345", amount="3500.5")
    assert command.name == "王'; DROP TABLE grievance;--"
    assert command.plate == "川B12345"
    assert command.payload()["amount"] == "3500.5"


def test_reason_limit() -> None:
    parse_command(Event.RETURN, {"reason": "r" * REASON_MAX})
    with pytest.raises(InvalidInput, match="reason"):
        parse_command(Event.RETURN, {"reason": "r" * (REASON_MAX + 1)})


def test_lead_unit_cannot_also_co_handle() -> None:
    with pytest.raises(InvalidInput, match="both lead and co-handling"):
        parse_command(Event.ASSIGN, {"unit": "UA", "co_units": ["UA"]})
    with pytest.raises(InvalidInput, match="listed twice"):
        parse_command(Event.ASSIGN, {"unit": "UA", "co_units": ["UB", "UB"]})
    with pytest.raises(InvalidInput, match="unit"):
        parse_command(Event.ASSIGN, {"unit": "bad code!"})


def test_extension_days_are_bounded() -> None:
    with pytest.raises(InvalidInput, match="days"):
        parse_command(Event.REQUEST_EXTENSION, {"days": 0, "reason": "x"})
    with pytest.raises(InvalidInput, match="days"):
        parse_command(Event.REQUEST_EXTENSION, {"days": 31, "reason": "x"})


def test_amend_must_change_something() -> None:
    with pytest.raises(InvalidInput, match="nothing to amend"):
        parse_command(Event.AMEND, {"reason": "x"})


# --------------------------------------------------------------------------- time
@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-11-23T09:30", datetime(2026, 11, 23, 1, 30, tzinfo=UTC)),  # naive = Shanghai
        ("2026-11-23 09:30", datetime(2026, 11, 23, 1, 30, tzinfo=UTC)),
        ("2026-11-23T09:30+00:00", datetime(2026, 11, 23, 9, 30, tzinfo=UTC)),
        ("2026-11-23T09:30Z", datetime(2026, 11, 23, 9, 30, tzinfo=UTC)),
        ("2026-11-23", datetime(2026, 11, 22, 16, 0, tzinfo=UTC)),
        ("2026-12-31T23:59:59+08:00", datetime(2026, 12, 31, 15, 59, 59, tzinfo=UTC)),
    ],
)
def test_times_parse_to_utc(text: str, utc: datetime) -> None:
    assert parse_instant(text) == utc


@pytest.mark.parametrize(
    "text",
    [
        "",
        "09:30",
        "yesterday",
        "2026-13-01T00:00",
        "2026-02-30",
        "2026-11-23T25:00",
        "2026-W48",
        "1",
        "x" * 200,
    ],
)
def test_times_without_a_parsable_date_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_instant(text)


def test_iso_shows_the_offset() -> None:
    assert iso(datetime(2026, 11, 23, 1, 30, tzinfo=UTC)) == "2026-11-23T09:30:00+08:00"


# --------------------------------------------------------------------------- masking
def test_masking_helpers() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("02887654321") == "028****4321"
    assert mask_plate("川B12345") == "川B***45"
    assert mask_name("王建国") == "王**"
    assert mask_id_number("510104199001011234") == "510104********1234"


def test_mask_text_finds_personal_data_in_free_text() -> None:
    text = (
        "电话13812345678或138-1234-5678，车牌川B12345，身份证51010419900101123X，座机028-87654321"
    )
    masked = mask_text(text)
    for secret in ("13812345678", "1234-5678", "川B12345", "19900101", "87654321"):
        assert secret not in masked
    assert "138****5678" in masked and "川B***45" in masked


def test_mask_text_leaves_amounts_and_dates_alone() -> None:
    text = "拖欠运费3500元，2026年11月23日，订单号20261123"
    assert mask_text(text) == text


@pytest.mark.parametrize(
    "text", ["+8613812345678", "8613812345678", "008613812345678", "+86 138-1234-5678"]
)
def test_mask_text_masks_numbers_with_a_country_code(text: str) -> None:
    assert mask_text(f"电话{text}。") == "电话138****5678。"


def test_plain_amounts_and_form_numbers_are_accepted() -> None:
    assert accept(amount="3500").payload()["amount"] == "3500"
    assert accept(amount=" 3500.50 ").payload()["amount"] == "3500.50"
    assert accept(amount=3500).payload()["amount"] == "3500"  # a JSON form's number


@pytest.mark.parametrize("event", [Event.CLOSE, Event.AMEND])
def test_recovered_and_amended_amounts_follow_the_same_rule(event: Event) -> None:
    data = {"result": "resolved", "note": "n", "recovered": "٣٥٠٠"}
    if event is Event.AMEND:
        data = {"reason": "更正金额", "amount": "1_000"}
    with pytest.raises(InvalidInput, match="plain digits"):
        parse_command(event, data)


def test_names_are_composed_before_their_length_is_counted() -> None:
    # "José" written with a combining accent is 5 code points but 4 characters on screen
    decomposed = "Jose\u0301 "
    name = (decomposed * (NAME_MAX // 5)).strip()  # 49 characters, 59 code points
    assert len(name) > NAME_MAX >= len(unicodedata.normalize("NFC", name))
    command = accept(name=name, respondent=name)
    assert command.name == unicodedata.normalize("NFC", name) and len(command.name) <= NAME_MAX
    assert command.respondent == command.name  # stored composed, so equal names compare equal
    with pytest.raises(InvalidInput, match="at most 50"):
        accept(name=name + "x" * (NAME_MAX - len(command.name) + 1))
    assert Actor(name=name, role=Role.DISPATCHER).name == name
    assert display_name(name, "login") == command.name
