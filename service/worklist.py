"""The worklist: what each open grievance waits for (`WAITS`: who acts, the desk or its lead
unit, and what they may do), a snapshot of it for the case runs (`flows.case_runs` keeps them in
line in Prefect), and the per-party worklist tables.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from models import sla_timers
from models.tables import Grievance, SlaTimer, Unit
from service.engine import Engine
from service.finding import Candidate, duplicates_of_many
from workflow.privacy import mask_text
from workflow.timers import TimerState
from workflow.timeutil import local
from workflow.vocab import Category, Event, Role, Satisfaction
from workflow.vocab import State as GState

WORKLIST_TAG = "worklist"


# ----------------------------------------------------------------------------- the waits
H = Role


@dataclass(frozen=True)
class Wait:
    """What a grievance waits for: who acts (the desk or its lead unit) and what they may do
    (the first event is the form's default). `case_run`: whether it gets a suspended case run
    (handling and suspended grievances are only listed in the worklist table)."""

    name: str  # lowercase letters: also the start of the pause key
    title: str
    desk: bool
    role: Role
    events: tuple[Event, ...]
    states: tuple[GState, ...]
    case_run: bool = True

    def offered(self) -> str:
        return "、".join(f"{e.zh} {e.value}" for e in self.events)


WAITS: dict[str, Wait] = {
    w.name: w
    for w in (
        Wait(
            "accepted",
            "待分办 To be assigned",
            True,
            H.DISPATCHER,
            (Event.ASSIGN, Event.MERGE),
            (GState.ACCEPTED,),
        ),
        Wait(
            "returned",
            "已退单待改派 Returned: to be reassigned",
            True,
            H.DISPATCHER,
            (Event.REASSIGN, Event.MERGE),
            (GState.RETURNED,),
        ),
        Wait(
            "assigned",
            "待签收 To be signed for by the unit",
            False,
            H.HANDLER,
            (Event.SIGN, Event.RETURN),
            (GState.ASSIGNED,),
        ),
        Wait(
            "extension",
            "延期待审批 Extension request to decide",
            False,
            H.SUPERVISOR,
            (Event.APPROVE_EXTENSION, Event.REJECT_EXTENSION),
            (GState.HANDLING, GState.SUSPENDED),
        ),
        Wait(
            "closed",
            "已办结待回访 Closed: to be revisited",
            True,
            H.DISPATCHER,
            (Event.REVISIT,),
            (GState.CLOSED,),
        ),
        Wait(
            "dissatisfied",
            "回访不满意 Dissatisfied: redo or review",
            True,
            H.DISPATCHER,
            (Event.REDO, Event.REVIEW),
            (GState.REVISITED,),
        ),
        Wait(
            "unreachable",
            "回访未接通 Driver unreachable: revisit again",
            True,
            H.DISPATCHER,
            (Event.REVISIT, Event.REVIEW),
            (GState.REVISITED,),
        ),
        Wait(
            "revisited",
            "已回访待复盘 Revisited: to be reviewed",
            True,
            H.REVIEWER,
            (Event.REVIEW,),
            (GState.REVISITED,),
        ),
        Wait(
            "handling",
            "办理中 Handling",
            False,
            H.HANDLER,
            (Event.FEEDBACK, Event.CLOSE, Event.REQUEST_EXTENSION),
            (GState.HANDLING,),
            case_run=False,
        ),
        Wait(
            "suspended",
            "已挂起 Suspended",
            False,
            H.HANDLER,
            (Event.RESUME, Event.FEEDBACK),
            (GState.SUSPENDED,),
            case_run=False,
        ),
    )
}
CASE_RUN_STATES = sorted(
    {s for w in WAITS.values() if w.case_run and w.name != "extension" for s in w.states},
    key=lambda s: s.value,
)


def wait_of(state: GState, pending_extension: bool, satisfaction: str | None) -> Wait | None:
    """What a grievance in this state waits for (None: finished)."""
    if state in (GState.HANDLING, GState.SUSPENDED):
        return WAITS["extension" if pending_extension else state.value]
    if state is GState.REVISITED:
        if satisfaction == Satisfaction.DISSATISFIED.value:
            return WAITS["dissatisfied"]
        if satisfaction == Satisfaction.UNREACHABLE.value:
            return WAITS["unreachable"]
        return WAITS["revisited"]
    if state in (GState.ACCEPTED, GState.RETURNED, GState.ASSIGNED, GState.CLOSED):
        return WAITS[state.value]
    return None


def _check_waits() -> None:
    """Every offered action is allowed by the transition table in the wait's states."""
    from workflow.machine import allowed_events

    for wait in WAITS.values():
        for state in wait.states:
            extra = set(wait.events) - set(allowed_events(state))
            if extra:
                raise RuntimeError(f"worklist offers {extra} in {state.value}: not in the table")
        if not re.fullmatch(r"[a-z]+", wait.name):
            raise RuntimeError(f"wait name {wait.name!r}: lowercase letters only")


_check_waits()


# --------------------------------------------------------------------------- snapshots
TARGETS = {"assign": "分办", "feedback": "进展反馈", "close": "办结", "revisit": "回访"}


@dataclass(frozen=True)
class Snapshot:
    """What the worklist needs of a grievance."""

    number: str
    state: GState
    version: int
    lead_unit: str | None
    wait: Wait | None
    category: str = ""
    summary: str = ""
    deadlines: tuple[tuple[str, datetime], ...] = ()  # running timers, earliest first
    # 疑似重复: open or lately closed grievances of the same phone or plate, for the waits
    # that offer 并单 merge (the desk's accepted and returned grievances)
    duplicates: tuple[Candidate, ...] = ()

    @property
    def party(self) -> str | None:
        """Who must act: "desk", the lead unit's code, or None."""
        if self.wait is None:
            return None
        return "desk" if self.wait.desk else (self.lead_unit or "desk")

    @property
    def wants_run(self) -> bool:
        return self.wait is not None and self.wait.case_run

    @property
    def identity(self) -> str | None:
        """`<wait>-<party digest>`: a case run's form fits while this stays the same."""
        if not self.wants_run or self.wait is None or self.party is None:
            return None
        return f"{self.wait.name}-{_digest(self.party)}"

    def tags(self) -> list[str]:
        tags = [f"grievance:{self.number}", WORKLIST_TAG]
        if self.party and self.wants_run:
            tags.append(f"waiting:{self.party}")
        if self.lead_unit:
            tags.append(f"unit:{self.lead_unit}")
        return tags

    def description(self, refused: str | None = None) -> str:
        """The markdown above the form (masked: no phone, plate or full name)."""
        assert self.wait is not None
        who = "受理台 the desk" if self.party == "desk" else f"承办单位 unit {self.party}"
        lines = []
        if refused:
            lines += [f"> **上次提交未办理 Your last input was refused:** {refused}", ""]
        lines += [
            f"### 工单 {self.number} · {self.wait.title}",
            "",
            f"**等待 Waiting for:** {who} · **可办理 Actions:** {self.wait.offered()}",
            "",
            # the gate's pages (same origin as the UI): this grievance's evidence, search, and
            # the signed-in person's own worklist table and SLA board (`gateway.shortcuts`)
            f"[证据材料 Evidence](/gate/attachments?number={self.number}) · "
            "[查找工单 Find a grievance](/gate/find) · "
            "[我的待办 My worklist](/gate/worklist) · [时限看板 SLA board](/gate/board)",
            "",
            *([self.duplicate_hint(), ""] if self.duplicates else []),
            "| 项目 Item | 值 Value |",
            "|---|---|",
            f"| 状态 State | {self.state.zh} {self.state.value} (v{self.version}) |",
            f"| 诉求分类 Category | {self.category} |",
            f"| 诉求 Summary | {self.summary} |",
            f"| 主办单位 Lead unit | {self.lead_unit or '-'} |",
            *(
                f"| 期限 Deadline: {TARGETS.get(t, t)} {t} | {local(d):%Y-%m-%d %H:%M} |"
                for t, d in self.deadlines
            ),
            "",
            "提交后按数据库中的最新状态办理；他人已办理则拒绝并显示新的表单。"
            " Applied to the grievance as stored now: if someone acted meanwhile, it is refused"
            " and the new form comes back.",
        ]
        return "\n".join(lines)

    def duplicate_hint(self) -> str:
        """The 疑似重复 line above the form: the candidates (numbers and what they share,
        never the value), and the merge offered into the first open one."""
        listed = "; ".join(c.line() for c in self.duplicates)
        line = f"> **疑似重复 Possible repeat:** {listed}"
        merge = [c.number for c in self.duplicates if c.open]
        if merge and Event.MERGE in (self.wait.events if self.wait else ()):
            line += f" — 如为重复来电，请选择「并单 merge」并入 {merge[0]} (choose merge into it)"
        return line

    def duplicate_cell(self) -> str:
        """The worklist table's 疑似重复 cell: the candidates' numbers, open ones marked."""
        return "、".join(f"{c.number}{'（在办 open）' if c.open else ''}" for c in self.duplicates)


def _digest(party: str) -> str:
    return hashlib.sha256(party.encode("utf-8")).hexdigest()[:8]


def _summary(text: str) -> str:
    masked = mask_text(" ".join(text.split())).replace("|", "/")
    return masked if len(masked) <= 60 else masked[:59] + "…"


def _running(timers: Iterable[SlaTimer]) -> list[tuple[datetime, str]]:
    """(due, target) of the timers that run (not stopped, not paused)."""
    return [
        (t.due_at, t.target)
        for t in timers
        if t.stopped_at is None and TimerState(t.state) is not TimerState.PAUSED
    ]


def _offers_merge(row: Grievance) -> bool:
    """Whether the grievance waits for the desk with 并单 merge offered."""
    satisfaction = row.satisfaction.value if row.satisfaction is not None else None
    wait = wait_of(GState(row.state), row.pending_extension_days is not None, satisfaction)
    return wait is not None and Event.MERGE in wait.events


def _duplicates(session: Session, rows: Iterable[Grievance]) -> dict[str, list[Candidate]]:
    return duplicates_of_many(session, [row for row in rows if _offers_merge(row)])


def _snapshot(
    row: Grievance,
    running: Iterable[tuple[datetime, str]],
    duplicates: Iterable[Candidate] = (),
) -> Snapshot:
    state = GState(row.state)
    satisfaction = row.satisfaction.value if row.satisfaction is not None else None
    return Snapshot(
        number=row.number,
        state=state,
        version=row.version,
        lead_unit=row.lead_unit,
        wait=wait_of(state, row.pending_extension_days is not None, satisfaction),
        category=Category(row.category).zh,
        summary=_summary(row.description),
        deadlines=tuple((target, due) for due, target in sorted(running)),
        duplicates=tuple(duplicates),
    )


def snapshots(session: Session, numbers: Iterable[str]) -> dict[str, Snapshot]:
    """Snapshots of the grievances that exist among `numbers`."""
    wanted = list(dict.fromkeys(numbers))
    found: dict[str, Snapshot] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = session.exec(select(Grievance).where(col(Grievance.number).in_(chunk))).all()
        timers = sla_timers.timers_of_many(session, [r.id for r in rows if r.id is not None])
        repeats = _duplicates(session, rows)
        for row in rows:
            running = _running(timers.get(row.id or 0, []))
            found[row.number] = _snapshot(row, running, repeats.get(row.number, ()))
    return found


def read(engine: Engine, number: str) -> Snapshot | None:
    with engine.db.read() as session:
        return snapshots(session, [number]).get(number)


# ---------------------------------------------------------------------- worklist tables
TABLE_WAITS = [s for s in GState if s not in (GState.NEW, GState.REVIEWED, GState.MERGED)]


def worklist_tables(engine: Engine, now: datetime) -> dict[str, list[dict[str, str]]]:
    """Per party ("desk" and every unit code): the open grievances that wait for it, overdue
    first, then by the next deadline (at most `TABLE_ROWS` each; the count is in `counts`)."""
    g, t = Grievance, SlaTimer
    with engine.db.read() as session:
        units = [u.code for u in session.exec(select(Unit).order_by(col(Unit.code))).all()]
        rows = session.exec(select(g).where(col(g.state).in_(TABLE_WAITS))).all()
        running: dict[int, list[tuple[datetime, str]]] = {}
        query = select(col(t.grievance_id), col(t.due_at), col(t.target)).where(
            col(t.stopped_at).is_(None), col(t.state) != TimerState.PAUSED
        )
        for gid, due, target in session.connection().execute(query):
            running.setdefault(int(gid), []).append((due, str(target)))
        repeats = _duplicates(session, rows)
    by_party: dict[str, list[tuple[bool, datetime, str, dict[str, str]]]] = {
        p: [] for p in ["desk", *units]
    }
    for row in rows:
        snap = _snapshot(row, running.get(row.id or 0, []), repeats.get(row.number, ()))
        if snap.wait is None or snap.party is None:
            continue
        due = snap.deadlines[0] if snap.deadlines else None
        overdue = due is not None and due[1] < now
        entry = {
            "工单编号 Number": snap.number,
            "待办 Waiting for": snap.wait.title,
            "可办理 Actions": snap.wait.offered(),
            "下一期限 Next deadline": (
                f"{local(due[1]):%Y-%m-%d %H:%M} {TARGETS.get(due[0], due[0])} {due[0]}"
                if due
                else "-"
            ),
            "超期 Overdue": "是 yes" if overdue else "",
            "诉求分类 Category": snap.category,
            "待办运行 Case run": "Suspended" if snap.wants_run else "-",
        }
        if snap.party == "desk":  # 并单 is the desk's: its table says which may be repeats
            entry["疑似重复 Possible repeat"] = snap.duplicate_cell()
        sort_due = due[1] if due else datetime.max.replace(tzinfo=UTC)
        by_party.setdefault(snap.party, []).append((not overdue, sort_due, snap.number, entry))
    return {
        party: [entry for *_, entry in sorted(items, key=lambda i: i[:3])]
        for party, items in by_party.items()
    }
