"""The demo data: units and a few dozen grievances spread over every stage, some overdue, loaded
through the use cases (`grievance demo` in `cli.demo` shows and serves them). Loading twice
adds nothing.

Notifications go to local inboxes (`inbox://NAME` -> `./inbox/NAME.jsonl`), so the demo needs
no chat system and no network: each unit has its own, and the desk, the bureau supervisors
and the leadership get theirs unless `GRIEVANCE_NOTIFY_*` say otherwise.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from models import case_rows, unit_rows
from service import cases as uc
from service import documents
from service.acting import Stamp
from service.engine import Engine
from service.units import add_unit
from workflow.actor import Actor
from workflow.commands import Accept, parse_command
from workflow.errors import Duplicate
from workflow.timeutil import SHANGHAI
from workflow.vocab import Category, Channel, Event, RequestType, Role

UNITS = {
    "ROAD": "市道路运输管理处",
    "HWY": "市高速公路管理处",
    "LAW": "市交通运输综合行政执法支队",
    "LOGI": "市物流协会",
}
DESK = Actor("受理员小张", Role.DISPATCHER)
# the demo's accounts at the gate: (login name, role, unit, display name)
ACCOUNTS = [
    ("admin", "admin", None, "系统管理员"),
    ("desk", "dispatcher", None, "受理员小张"),
    ("road", "handler", "ROAD", "道路处承办人"),
    ("road.chief", "supervisor", "ROAD", "道路处负责人"),
    ("law", "handler", "LAW", "执法支队承办人"),
    ("reviewer", "reviewer", None, "复盘组老李"),
    ("analyst", "analyst", None, "分析员小王"),
]
REVIEWER = Actor("复盘组老李", Role.REVIEWER)

# (category, type, text template, amount in yuan or None, likely unit)
STORIES: list[tuple[Category, RequestType, str, int | None, str]] = [
    (
        Category.FREIGHT_UNPAID,
        RequestType.COMPLAINT,
        "货主拖欠运费{amount}元已两个月，多次催要无果，联系电话{phone}",
        3500,
        "ROAD",
    ),
    (
        Category.TOLL_ETC,
        RequestType.COMPLAINT,
        "ETC重复扣费，通行费被扣两次共{amount}元，请求退还",
        286,
        "HWY",
    ),
    (
        Category.PLATFORM_FEE,
        RequestType.COMPLAINT,
        "货运平台违规收取信息费和会员费{amount}元，司机无法退出",
        1200,
        "LOGI",
    ),
    (
        Category.ENFORCEMENT,
        RequestType.COMPLAINT,
        "执法人员在检查站处罚时未出示证件，对罚款{amount}元有异议",
        2000,
        "LAW",
    ),
    (
        Category.REST_PARKING,
        RequestType.SUGGESTION,
        "建议服务区增加货车夜间停车位，车牌{plate}经常找不到车位",
        None,
        "HWY",
    ),
    (
        Category.CITY_ACCESS,
        RequestType.ENQUIRY,
        "咨询城市通行证办理条件和限行时段，车牌{plate}",
        None,
        "ROAD",
    ),
    (
        Category.CARGO_DAMAGE,
        RequestType.HELP,
        "运输途中货物受损，货主扣留押金{amount}元，请求协调",
        5000,
        "LOGI",
    ),
    (
        Category.VEHICLE_SALE,
        RequestType.COMPLAINT,
        "以租代购车辆买卖合同存在套路，被收取高额违约金{amount}元",
        30000,
        "LAW",
    ),
    (
        Category.OVERLOAD,
        RequestType.COMPLAINT,
        "超限检测站称重结果与地磅不一致，车辆被扣",
        None,
        "LAW",
    ),
    (
        Category.INSURANCE,
        RequestType.HELP,
        "车辆事故保险理赔迟迟不到账，涉及金额{amount}元",
        8000,
        "ROAD",
    ),
    (
        Category.CONTRACT,
        RequestType.COMPLAINT,
        "挂靠公司单方面解除合同并扣留车辆行驶证",
        None,
        "ROAD",
    ),
    (Category.OTHER, RequestType.ENQUIRY, "咨询司机之家开放时间和免费淋浴服务", None, "LOGI"),
]
# Who the drivers complain about: a few names recur, as in real data (会商研判 looks for them).
RESPONDENTS: dict[Category, list[str]] = {
    Category.FREIGHT_UNPAID: ["顺达物流有限公司", "恒通货运代理部"],
    Category.TOLL_ETC: ["省高速公路联网收费中心"],
    Category.PLATFORM_FEE: ["货满满网络货运平台", "运易达平台"],
    Category.ENFORCEMENT: ["城西交通执法检查站"],
    Category.CARGO_DAMAGE: ["顺达物流有限公司"],
    Category.VEHICLE_SALE: ["安驰汽车销售服务公司"],
    Category.CONTRACT: ["鑫运车辆挂靠服务公司"],
    Category.INSURANCE: ["平安路保险代理公司"],
}
# A driver who comes back: these demo grievances share one complainant.
REPEAT_COMPLAINANT = {4, 16, 28}
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
PROVINCES = "川渝陕甘贵云湘鄂豫冀鲁苏浙皖赣闽粤桂"


@dataclass(frozen=True)
class Demo:
    engine: Engine
    now: datetime
    rng: random.Random

    def handler(self, unit: str) -> Actor:
        return Actor(f"{unit}承办人", Role.HANDLER, unit)

    def supervisor(self, unit: str) -> Actor:
        return Actor(f"{unit}科长", Role.SUPERVISOR, unit)


def _stamp(actor: Actor, at: datetime, now: datetime) -> Stamp:
    return Stamp(actor=actor, at=at, recorded_at=now)


def load(
    engine: Engine, now: datetime, *, count: int = 36, seed: int = 2142, issue: bool = True
) -> int:
    """Load the demo data as of `now`; returns how many grievances were added (0 if present).

    With `issue` (the default) the documents the reviews and no-fault closes queued are issued
    at the end, as their actions would have; without, they are left pending."""
    setup = _stamp(DESK, now, now)
    with engine.db.read() as session:
        missing = unit_rows.missing_units(session, UNITS)
    for code in sorted(missing):
        inbox = f"inbox://{code.lower()}"
        add_unit(
            engine,
            setup,
            code=code,
            name=UNITS[code],
            notify=[inbox],
            supervisor_notify=[f"{inbox}-supervisor"],
        )
    added = 0
    for index in range(count):
        try:  # one generator per grievance: skipping a loaded one keeps the others the same
            _one(Demo(engine=engine, now=now, rng=random.Random(seed * 10_000 + index)), index)
            added += 1
        except Duplicate:
            continue
    if issue:
        documents.issue(engine, now, limit=10_000)  # the reviews' and no-fault closes'
    return added


SAMPLE_IMPORT = "12328-demo.csv"  # written into the import folder by `grievance demo`
_SAMPLE_HEADER = (
    "工单编号,受理时间,来源渠道,诉求类型,诉求分类,诉求人,联系电话,车牌号码,被反映对象,"
    "涉及金额（元）,是否紧急,诉求内容"
).split(",")
# (hours before now, type, category, name, phone, plate, respondent, amount, urgent, text)
_SAMPLE_ROWS = [
    (3, "投诉举报", "运费纠纷/拖欠运费", "赵师傅", "13700000001", "川A3D861", "成都某物流公司",
     "4800", "否", "货主拖欠运费4800元已一个月，多次催要未果。"),
    (2, "求助", "高速通行费/ETC争议", "钱师傅", "13700000002", "渝B7K215", "", "", "否",
     "ETC同一行程扣费两次，请求协助退费。"),
    (1, "投诉举报", "平台收费", "孙师傅", "0287654321", "", "某货运平台", "300", "是",
     "平台扣押保证金300元拒不退还，影响接单。"),
]  # fmt: skip


def sample_work_orders(now: datetime) -> str:
    """A made-up export of 12328 work orders (CSV with the system's Chinese headers, as
    `grievance import` reads) received in the hours before `now`, so the demo's bulk import
    form has a file to take; its references carry the day, so another day's file is new."""
    local = now.astimezone(SHANGHAI)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_SAMPLE_HEADER)
    for n, (hours, *fields) in enumerate(_SAMPLE_ROWS, start=1):
        at = (local - timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M")
        writer.writerow([f"12328-DEMO-{local:%Y%m%d}-{n:04d}", at, "12328热线", *fields])
    return out.getvalue()


def load_accounts(engine: Engine, now: datetime) -> list[tuple[str, str, str]]:
    """Add the demo accounts that are missing, each with a generated password; returns
    (name, role@unit, password) of those added (the passwords exist nowhere else)."""
    from service import accounts  # argon2 only where accounts are made

    existing = {view.name for view in accounts.list_users(engine)}
    setup = _stamp(DESK, now, now)
    added = []
    for name, role, unit, shown in ACCOUNTS:
        if name in existing:
            continue
        view, password = accounts.add_user(
            engine, setup, name=name, role=role, unit=unit, display=shown
        )
        assert password is not None
        added.append((view.name, role + (f"@{unit}" if unit else ""), password))
    return added


def _one(demo: Demo, index: int) -> None:
    rng, now = demo.rng, demo.now
    category, rtype, template, amount, unit = STORIES[index % len(STORIES)]
    phone = f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"
    plate = f"{rng.choice(PROVINCES)}{rng.choice('ABCDEFG')}{rng.randrange(10**5):05d}"
    name = f"{rng.choice(SURNAMES)}师傅"
    if index in REPEAT_COMPLAINANT:
        phone, plate, name = "13981234567", "川B62731", "罗师傅"
    text = template.format(amount=amount, phone=phone, plate=plate)
    respondents = RESPONDENTS.get(category)
    accepted = (now - timedelta(hours=rng.uniform(1, 24 * 12))).replace(second=0, microsecond=0)
    command = parse_command(
        Event.ACCEPT,
        {
            "channel": rng.choice(list(Channel)),
            "ref": f"DEMO-{index + 1:04d}",
            "type": rtype,
            "category": category,
            "name": name,
            "phone": phone,
            "plate": plate,
            "description": text,
            "amount": amount,
            "urgent": index % 17 == 5,
            "respondent": rng.choice(respondents) if respondents else None,
        },
    )
    if not isinstance(command, Accept):
        raise TypeError("expected an Accept command")
    case = uc.accept(demo.engine, command, _stamp(DESK, accepted, now))
    # How far this one got: 0 = still waiting for the desk ... 8 = reviewed.
    depth = [0, 1, 2, 2, 3, 3, 4, 4, 5, 6, 7, 8][index % 12]
    t = accepted
    steps: list[tuple[Actor, Callable[..., Any], dict[str, Any]]] = [
        (DESK, uc.assign, {"unit": unit}),
        (demo.handler(unit), uc.sign, {}),
        (demo.handler(unit), uc.feedback, {"note": "已联系司机，正在核实情况"}),
        _closing(demo, unit, t, amount),
        (
            DESK,
            uc.revisit,
            {
                "satisfaction": rng.choice(
                    ["satisfied", "satisfied", "basically_satisfied", "dissatisfied"]
                )
            },
        ),
        (
            REVIEWER,
            uc.review,
            {
                "root_cause": "企业未按合同约定履行义务",
                "actions": "约谈企业负责人，督促限期整改",
                "lessons": "加强对同类平台和企业的日常监管",
            },
        ),
    ]
    if index % 12 == 3:  # a unit returns one to the desk
        steps[1] = (demo.handler(unit), uc.return_to_desk, {"reason": "不属于本单位管辖范围"})
    for actor, run, args in steps[: max(depth - 1, 0)]:
        t = min(t + timedelta(minutes=rng.randrange(30, 30 * 60)), now)
        if "findings" in args:  # explained to the driver when it was closed
            args = {**args, "findings": {**args["findings"], "explained_at": t.isoformat()}}
        if run is uc.review and demo_case_dissatisfied(demo.engine, case.number):
            actor, run, args = DESK, uc.redo, {"reason": "司机对处理结果不满意，重新办理"}
        run(demo.engine, case.number, _stamp(actor, t, now), **args)


def demo_case_dissatisfied(engine: Engine, number: str) -> bool:
    with engine.db.read() as session:
        return case_rows.get_row(session, number).satisfaction == "dissatisfied"


def _closing(
    demo: Demo, unit: str, at: datetime, amount: int | None
) -> tuple[Actor, Callable[..., Any], dict[str, Any]]:
    """The close step: a handler closes; a no-fault conclusion is the supervisor's, with its
    findings for the no-fault statement (无责说明)."""
    rng = demo.rng
    result = rng.choice(["resolved", "resolved", "partly_resolved", "no_fault", "unsubstantiated"])
    args: dict[str, Any] = {"result": result, "note": "经核实，已协调相关方处理完毕"}
    if amount and result in ("resolved", "partly_resolved"):
        args["recovered"] = str(amount if result == "resolved" else amount // 2)
    if result in ("resolved", "partly_resolved"):
        return demo.handler(unit), uc.close, args
    args["note"] = "经核实，被反映对象无过错" if result == "no_fault" else "经核实，反映情况不属实"
    args["findings"] = {
        "verification": "调取运单、结算记录和通话记录，电话询问货主及司机，实地核查",
        "facts": "相关费用已按合同约定结清，未发现违规收费或拖欠行为",
        "basis": "《中华人民共和国民法典》第五百零九条；《道路货物运输及站场管理规定》",
        "explanation": "已电话向司机说明核查结果、依据及后续维权途径，司机表示知悉",
        "explained_at": at.isoformat(),  # replaced by the closing time below
        "evidence": ["运单及结算凭证", "银行转账记录", "通话记录"],
    }
    return demo.supervisor(unit), uc.close, args
