"""Synthetic but realistic work orders for the benchmarks (deterministic for a seed).

What is realistic about them: the channels, request types and categories come in the
proportions of a city 12328 desk (unpaid freight and tolls lead; the 12328 hotline brings half
of the cases); each category is routed to the unit that handles it; people have Chinese
names, mobile (sometimes landline) numbers and plates of the province; amounts are given for
money disputes; arrivals follow the business-hour pattern of a working day (peaks at 9-11 and
14-16, a thin evening, few at night, about one in twelve on a rest day). `Story` draws how a
grievance goes (how long each step takes, the result, the driver's answer): most steps come
in time, a share comes late enough to breach the limit (the share that breaches is counted
afterwards from the stored timers, not assumed).

Times are drawn, never read from the clock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

SH = ZoneInfo("Asia/Shanghai")

# code, name, the categories it leads on
UNITS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("FREIGHT", "市道路运输管理处货运科", ("freight_unpaid", "contract", "cargo_damage")),
    ("HIGHWAY", "高速公路管理处", ("toll_etc", "rest_parking")),
    ("LAW", "交通运输综合行政执法支队", ("enforcement", "overload")),
    ("PLATFORM", "网络货运监管科", ("platform_fee",)),
    ("SAFETY", "安全监督科", ("insurance", "vehicle_sale")),
    ("CITY", "城区交通管理办公室", ("city_access",)),
    ("DESKOPS", "运输服务科", ("other",)),
)
UNIT_OF: dict[str, str] = {cat: code for code, _, cats in UNITS for cat in cats}

CHANNELS = {
    "hotline_12328": 50,
    "hotline_12345": 20,
    "mini_program": 12,
    "platform": 6,
    "mailbox": 4,
    "grid": 4,
    "walk_in": 4,
}
TYPES = {"complaint": 62, "help": 25, "enquiry": 9, "suggestion": 4}
CATEGORIES = {
    "freight_unpaid": 30,
    "toll_etc": 15,
    "platform_fee": 12,
    "enforcement": 10,
    "overload": 6,
    "cargo_damage": 6,
    "contract": 5,
    "insurance": 4,
    "city_access": 4,
    "vehicle_sale": 3,
    "rest_parking": 3,
    "other": 2,
}
# Arrivals per hour of a working day (Asia/Shanghai), relative.
HOURS = (
    (0, 1), (1, 1), (2, 0), (3, 0), (4, 0), (5, 1), (6, 2), (7, 6), (8, 18), (9, 30), (10, 32),
    (11, 22), (12, 8), (13, 10), (14, 26), (15, 28), (16, 24), (17, 12), (18, 7), (19, 6),
    (20, 5), (21, 4), (22, 2), (23, 1),
)  # fmt: skip
REST_DAY_SHARE = 0.08
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = ("建国", "师傅", "伟", "强", "军", "磊", "勇", "洋", "涛", "斌", "海峰", "志强", "德明")
PROVINCE_PLATES = ("川A", "川B", "川C", "川F", "川Z", "渝A", "渝B", "陕A", "贵A", "云A")
PLATE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
COMPANIES = (
    "顺达物流有限公司",
    "捷运货运代理有限公司",
    "某货运平台",
    "某ETC发行服务机构",
    "恒通运输有限公司",
    "西部物流园",
    "某保险公司",
    "某车辆销售公司",
)
DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "freight_unpaid": ("货主拖欠运费{amount}元已两个月，多次催要未果。", "运费被克扣{amount}元。"),
    "toll_etc": ("ETC重复扣费{amount}元，请求协助退费。", "高速通行费计费异常，多扣{amount}元。"),
    "platform_fee": (
        "平台擅自提高信息费，拒不退还押金{amount}元。",
        "平台抽成过高，扣款{amount}元。",
    ),
    "enforcement": ("路面执法人员态度粗暴，罚款理由不清。", "对超限处罚决定有异议。"),
    "overload": ("称重检测结果与实际不符，被要求卸货。", "超限检测站排队时间过长。"),
    "cargo_damage": ("货物在装卸中损坏，责任认定有争议，损失{amount}元。",),
    "contract": ("运输合同约定不清，结算时被扣{amount}元。",),
    "insurance": ("货物险理赔被拒，涉及{amount}元。",),
    "city_access": ("询问城区货车通行证办理需要哪些材料。", "通行证申请多次被退回。"),
    "vehicle_sale": ("挂靠购车被收取不明费用{amount}元。",),
    "rest_parking": ("建议服务区增加夜间货车停车位。", "司机之家收费不透明。"),
    "other": ("其他问题咨询。",),
}
MONEY = {
    "freight_unpaid",
    "toll_etc",
    "platform_fee",
    "cargo_damage",
    "contract",
    "insurance",
    "vehicle_sale",
}


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


def is_rest_day(day: date) -> bool:
    """Weekends only: the generator's notion (the engine's calendar decides the deadlines)."""
    return day.weekday() >= 5


def arrival(rng: random.Random, first_day: date, days: int) -> datetime:
    """An acceptance instant in [first_day, first_day + days), on the desk's hourly pattern."""
    rest = rng.random() < REST_DAY_SHARE
    for _ in range(1000):
        day = first_day + timedelta(days=rng.randrange(days))
        if is_rest_day(day) == rest:
            break
    hour = rng.choices([h for h, _ in HOURS], [w for _, w in HOURS])[0]
    moment = datetime(day.year, day.month, day.day, hour, tzinfo=SH)
    return moment + timedelta(seconds=rng.randrange(3600))


@dataclass(frozen=True, slots=True)
class Order:
    """One work order as 12328 would send it (strings, the way a CSV carries them)."""

    ref: str
    channel: str
    type: str
    category: str
    name: str
    phone: str
    plate: str | None
    description: str
    amount: str | None
    urgent: bool
    respondent: str | None
    accepted_at: datetime

    @property
    def unit(self) -> str:
        return UNIT_OF[self.category]

    def accept_data(self) -> dict[str, Any]:
        """The fields of the accept command (`workflow.commands.Accept`)."""
        data: dict[str, Any] = {
            "channel": self.channel,
            "ref": self.ref,
            "type": self.type,
            "category": self.category,
            "name": self.name,
            "phone": self.phone,
            "description": self.description,
            "urgent": self.urgent,
        }
        for key in ("plate", "amount", "respondent"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data


def order(rng: random.Random, i: int, first_day: date, days: int, prefix: str = "W") -> Order:
    """The i-th work order: channel, type, category, person, amount, acceptance instant."""
    category = _pick(rng, CATEGORIES)
    amount = None
    if category in MONEY and rng.random() < 0.85:
        amount = str(rng.randrange(2, 800) * 50)
    description = rng.choice(DESCRIPTIONS[category]).format(amount=amount or "若干")
    if rng.random() < 0.08:
        phone = f"028{rng.randrange(10**7, 10**8)}"  # a landline with its area code
    else:
        phone = f"1{rng.choice('35789')}{rng.randrange(10**9):09d}"
    plate = None
    if rng.random() < 0.8:
        tail = "".join(rng.choice(PLATE_CHARS) for _ in range(5))
        plate = rng.choice(PROVINCE_PLATES) + tail
    accepted = arrival(rng, first_day, days)
    return Order(
        ref=f"{prefix}-{accepted:%Y%m%d}-{i:07d}",
        channel=_pick(rng, CHANNELS),
        type=_pick(rng, TYPES),
        category=category,
        name=rng.choice(SURNAMES) + rng.choice(GIVEN),
        phone=phone,
        plate=plate,
        description=description,
        amount=amount,
        urgent=rng.random() < 0.02,
        respondent=rng.choice(COMPANIES) if rng.random() < 0.55 else None,
        accepted_at=accepted,
    )


@dataclass(frozen=True, slots=True)
class Story:
    """How one grievance goes after acceptance: the delay before each step (natural time)
    and the answers. Late delays are drawn for a share of the cases (they breach)."""

    assign: timedelta
    sign: timedelta
    feedback: timedelta
    close: timedelta
    revisit: timedelta
    review: timedelta
    result: str
    satisfaction: str
    unreachable_first: bool  # the first revisit call finds nobody; a second one the next day


def story(rng: random.Random) -> Story:
    minutes = timedelta(minutes=1)
    late_assign = rng.random() < 0.08
    late_feedback = rng.random() < 0.10
    late_close = rng.random() < 0.12
    late_revisit = rng.random() < 0.05
    result = rng.choices(
        ["resolved", "partly_resolved", "unresolved", "no_fault"], [68, 14, 12, 6]
    )[0]
    satisfaction = rng.choices(["satisfied", "basically_satisfied", "dissatisfied"], [72, 19, 9])[0]
    return Story(
        assign=(rng.randrange(200, 900) if late_assign else rng.randrange(5, 100)) * minutes,
        sign=rng.randrange(5, 90) * minutes,
        feedback=(rng.randrange(36, 72) if late_feedback else rng.randrange(1, 7)) * 60 * minutes,
        close=(rng.randrange(7, 12) if late_close else rng.randrange(1, 4)) * 24 * 60 * minutes,
        revisit=(rng.randrange(5, 8) if late_revisit else rng.randrange(1, 2)) * 24 * 60 * minutes,
        review=rng.randrange(1, 4) * 24 * 60 * minutes,
        result=result,
        satisfaction=satisfaction,
        unreachable_first=rng.random() < 0.05,
    )
