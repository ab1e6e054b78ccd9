"""Several workers: the multi-machine shape (Prefect server on PostgreSQL, a `process` work
pool, the deployments of `prefect.yaml`, N workers) shown on this machine, and checked.

    .venv/bin/python -m bench.workers [--actions 1000] [--workers 2] [--pg URL]
    .venv/bin/python -m bench.workers --write-prefect-yaml     # regenerate prefect.yaml

What a run does, each step with the commands the README gives for several machines:

1. Two fresh databases on the PostgreSQL server of `--pg` (default: `scripts/postgres url`):
   `workers_<id>_grievance` and `workers_<id>_prefect`.
2. The Prefect server on the second (`flows.prefect_server.prefect_api`, a free port,
   `PREFECT_API_DATABASE_CONNECTION_URL=postgresql+asyncpg://...`).
3. `prefect work-pool create grievance --type process`, then `prefect deploy --all` from
   `prefect.yaml` (its pull step sets the working directory to `$GRIEVANCE_CHECKOUT`, the
   checkout on each worker: no git clone, nothing fetched at run time). The schedules are
   checked, then paused (`--schedules` leaves them on): the bench triggers the watchdog
   itself, so its figures count only the runs it made.
4. N `prefect worker start --pool grievance --name bench-worker-<i> --limit L` processes,
   each with `GRIEVANCE_DATABASE_URL`, `GRIEVANCE_CHECKOUT` and the venv first on `PATH`.
5. Data loaded directly through the use cases (fast; while the server starts): four units
   with `inbox://` targets, the grievances the action runs will act on, and overdue
   grievances (accepted ten days ago, half of them urgent) whose warnings, red cards and 督办
   are all due (as many again are loaded half-way, for the second watchdog burst).
6. `--actions` action flow runs created through the API at a bounded concurrency (at most
   `--inflight` not yet finished): assign -> sign -> feedback -> close chains on different
   grievances (the next step of a chain is created when the previous one has completed),
   accepts, and deliberately conflicting pairs on one grievance (two assigns with the same
   expected version; two closes); and bursts of `--watchdogs` concurrent `sla-watchdog`
   runs (at the start and half-way), then a last one. A progress line shows the runs.
7. The checks (exit code 1 if any fails): every run reached a terminal state, as expected
   (a pair: exactly one Completed); each completed action is in the audit log exactly once
   (every run acts under an actor name of its own) and a failed one not at all; no SLA step
   was recorded twice and none that was due is left; the stored timers equal the replay of
   the audit log (`grievance sla check`); no notification twice (dedupe keys, successful
   attempts, lines in the inboxes); the runs were spread over every worker (the flow run's
   `prefect.worker.name` label). Then the figures: wall time, runs/s, per-worker split,
   queue and run times, what each watchdog run fired.

Every process it starts (server, workers and the flow-run processes under them) is stopped
and both databases are dropped, also on failure or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PREFECT_YAML = ROOT / "prefect.yaml"
POOL = "grievance"
CHECKOUT_ENV = "GRIEVANCE_CHECKOUT"
# The flow-run process a worker starts: the engine itself, in the venv that runs the worker
# (`python` first on its PATH). Without a command, Prefect 3.8 starts a "workspace
# supervisor" that imports Prefect once more before it execs the engine: 1.3 s of CPU more
# per run on this machine.
ENGINE_COMMAND = "python -m prefect.engine"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:54329/postgres"
UNITS = ("ROAD", "LAW", "ETC", "PORT")
TERMINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
NEXT_STATE = {"assign": "assigned", "sign": "handling", "feedback": "handling", "close": "closed"}
CHAIN = ("assign", "sign", "feedback", "close")


# --------------------------------------------------------------------------- prefect.yaml
YAML_HEADER = """\
# The engine's deployments for Prefect workers: a `process` work pool named "grievance",
# the code taken from the checkout on each worker ($GRIEVANCE_CHECKOUT, no git clone).
# See the README, "Several machines: PostgreSQL and Prefect workers".
#
# Generated from flows/scheduled.py `deployments()` (what `grievance serve` serves) by
#     .venv/bin/python -m bench.workers --write-prefect-yaml
# Do not edit by hand: tests/flows/test_workers.py fails when this file and the code differ.
"""


@contextlib.contextmanager
def _without_env(name: str) -> Iterator[None]:
    saved = os.environ.pop(name, None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ[name] = saved


def _schedule(schedule: Any) -> dict[str, Any]:
    """One schedule of a served deployment as a prefect.yaml `schedules` entry."""
    from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule

    if isinstance(schedule, CronSchedule):
        entry: dict[str, Any] = {"cron": schedule.cron, "timezone": schedule.timezone}
        if not schedule.day_or:
            entry["day_or"] = False
        return entry
    if isinstance(schedule, IntervalSchedule):
        seconds = schedule.interval.total_seconds()
        return {"interval": int(seconds) if seconds.is_integer() else seconds}
    raise TypeError(f"no prefect.yaml form for {schedule!r}")


def prefect_yaml_data() -> dict[str, Any]:
    """prefect.yaml as data: every deployment `deployments()` serves (the watchdog interval
    at its default, whatever GRIEVANCE_WATCHDOG_INTERVAL says here), on the process pool."""
    import prefect

    from flows import scheduled

    with _without_env(scheduled.ENV_INTERVAL):
        served = scheduled.deployments()
    deployments = []
    for deployment in served:
        entry: dict[str, Any] = {
            "name": deployment.name,
            "entrypoint": deployment.entrypoint,
            "description": " ".join((deployment.description or "").split()),
            "tags": list(deployment.tags),
            "work_pool": {"name": POOL, "job_variables": {"command": ENGINE_COMMAND}},
        }
        schedules = [_schedule(s.schedule) for s in deployment.schedules]
        if schedules:
            entry["schedules"] = schedules
        deployments.append(entry)
    return {
        "name": "grievance-engine",
        "prefect-version": prefect.__version__,
        "build": None,
        "push": None,
        "pull": [
            {
                "prefect.deployments.steps.set_working_directory": {
                    "directory": "{{ $" + CHECKOUT_ENV + " }}"
                }
            }
        ],
        "deployments": deployments,
    }


def prefect_yaml_text() -> str:
    import yaml  # type: ignore[import-untyped, unused-ignore]

    body: str = yaml.safe_dump(
        prefect_yaml_data(), allow_unicode=True, sort_keys=False, width=100, default_flow_style=None
    )
    return YAML_HEADER + body


# ------------------------------------------------------------------------------ PostgreSQL
def default_pg_url() -> str:
    """`scripts/postgres url` (the throwaway server the tests and benchmarks use)."""
    try:
        done = subprocess.run(  # noqa: S603 - our own script
            [str(ROOT / "scripts" / "postgres"), "url"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return done.stdout.strip() or DEFAULT_PG
    except (OSError, subprocess.SubprocessError):
        return DEFAULT_PG


def _dsn(url: str) -> str:
    """libpq form of the server's maintenance database (whatever database `url` names)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url).set(drivername="postgresql", database="postgres")
    return parsed.render_as_string(hide_password=False)


def pg_reachable(url: str, timeout: int = 3) -> bool:
    import psycopg

    try:
        with psycopg.connect(_dsn(url), connect_timeout=timeout):
            return True
    except (psycopg.Error, OSError):
        return False


def _admin(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(_dsn(url), autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement.encode())


def _database_url(base: str, name: str, driver: str) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(base).set(drivername=driver, database=name)
    return url.render_as_string(hide_password=False)


# ------------------------------------------------------------------------------- processes
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _children() -> dict[int, list[int]]:
    """Every process's children, from /proc (Linux)."""
    tree: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        tree[int(fields[1])].append(int(entry.name))
    return tree


def _descendants(pid: int) -> list[int]:
    tree, found, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


class Processes:
    """The workers this bench starts (each in its own session), and everything under them."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: dict[str, subprocess.Popen[bytes]] = {}
        self.seen: set[int] = set()  # flow-run processes seen under a worker

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with open(self.logs / f"{name}.log", "ab") as log:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
                argv,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started[name] = process
        return process

    def all_running(self) -> bool:
        return all(process.poll() is None for process in self.started.values())

    def note_descendants(self) -> None:
        for process in self.started.values():
            self.seen.update(_descendants(process.pid))

    def stop(self) -> None:
        """SIGINT to each worker's process group, SIGKILL after 20 s; then any flow-run
        process that outlived its worker (they run in process groups of their own)."""
        self.note_descendants()
        for process in self.started.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGINT)
        deadline = time.monotonic() + 20
        for process in self.started.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for pid in sorted(self.seen):
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.started.clear()


def _prefect(
    argv: list[str], env: dict[str, str], log: Path, timeout: float = 300
) -> subprocess.CompletedProcess[bytes]:
    """One `prefect ...` command, in the checkout, its output appended to `log`."""
    with open(log, "ab") as out:
        out.write(f"\n$ prefect {' '.join(argv)}\n".encode())
        out.flush()
        done = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
            [sys.executable, "-m", "prefect", *argv],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    if done.returncode != 0:
        raise SystemExit(f"`prefect {' '.join(argv)}` failed (exit {done.returncode}); see {log}")
    return done


# ------------------------------------------------------------------------------- the load
@dataclass
class Sub:
    """One flow run this bench creates, and what it must lead to."""

    kind: str  # chain | accept | pair | watchdog
    deployment: str
    params: dict[str, Any]
    actor: str | None = None
    number: str | None = None
    ref: str | None = None
    group: int | None = None  # the chain or pair it belongs to
    run_id: uuid.UUID | None = None
    created: float = 0.0
    state: str | None = None
    message: str | None = None
    done: float = 0.0


@dataclass
class Chain:
    number: str
    unit: str
    steps: list[str]
    next: int = 0


@dataclass
class Load:
    chains: list[Chain] = field(default_factory=list)
    accepts: list[str] = field(default_factory=list)  # channel references
    pairs: list[tuple[str, str, str | None]] = field(default_factory=list)  # number, kind, unit
    overdue: list[str] = field(default_factory=list)
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class Actors:
    """A name of its own for every action run: its audit event names the run."""

    def __init__(self, tag: str) -> None:
        self.tag, self.count = tag, 0

    def next(self) -> str:
        self.count += 1
        return f"bench-{self.tag}-{self.count:05d}"  # an account (login name) per run


def plan_sizes(actions: int) -> tuple[int, int, int, int]:
    """(chains, leftover steps of a last partial chain, accepts, conflicting pairs)."""
    pairs = max(2, actions // 50)
    accepts = max(1, actions // 20)
    rest = actions - 2 * pairs - accepts
    if rest < 1:
        raise SystemExit(f"--actions {actions}: give at least {2 * pairs + accepts + 1}")
    return rest // len(CHAIN), rest % len(CHAIN), accepts, pairs


class Loader:
    """Units and grievances, straight through the use cases (no Prefect: fast)."""

    def __init__(self, engine: Any, tag: str) -> None:
        from workflow.actor import Actor
        from workflow.vocab import Role

        self.engine, self.tag, self.serial = engine, tag, 0
        self.desk = Actor("装载受理台", Role.DISPATCHER)

    def stamp(self, actor: Any, at: datetime) -> Any:
        from service.acting import Stamp

        return Stamp(actor=actor, at=at, recorded_at=max(at, datetime.now(UTC)))

    def units(self) -> None:
        from service.units import add_unit

        for code in UNITS:
            add_unit(
                self.engine,
                self.stamp(self.desk, datetime.now(UTC)),
                code=code,
                name=f"压测单位{code}",
                notify=[f"inbox://unit-{code.lower()}"],
                supervisor_notify=[f"inbox://supervisor-{code.lower()}"],
            )

    def accept(self, at: datetime, urgent: bool = False) -> str:
        from service import cases as uc
        from workflow.commands import Accept, parse_command
        from workflow.vocab import Event

        self.serial += 1
        data = {
            "channel": "hotline_12328",
            "ref": f"WB{self.tag}-D{self.serial:05d}",
            "type": "complaint",
            "category": "freight_unpaid",
            "name": "王建国",
            "phone": "13812345678",
            "plate": "川B12345",
            "description": "货主拖欠运费3500元已两个月",
            "amount": "3500",
            "urgent": urgent,
        }
        command = parse_command(Event.ACCEPT, data)
        assert isinstance(command, Accept)
        return uc.accept(self.engine, command, self.stamp(self.desk, at)).number

    def plan(self, actions: int) -> Load:
        """The grievances the action runs act on: fresh ones (nothing due for hours)."""
        from service import cases as uc
        from workflow.actor import Actor
        from workflow.vocab import Role

        now = datetime.now(UTC)
        chains, partial, accepts, pairs = plan_sizes(actions)
        plan = Load()
        for i in range(chains + (1 if partial else 0)):
            steps = list(CHAIN if i < chains else CHAIN[:partial])
            plan.chains.append(Chain(self.accept(now), UNITS[i % len(UNITS)], steps))
        plan.accepts = [f"WB{self.tag}-A{i:05d}" for i in range(accepts)]
        for i in range(pairs):
            unit = UNITS[i % len(UNITS)]
            number = self.accept(now)
            if i % 2 == 0:  # two assigns, both as of version 1: one must be refused
                plan.pairs.append((number, "assign", None))
                continue
            uc.assign(self.engine, number, self.stamp(self.desk, now), unit=unit)
            handler = Actor("装载承办人", Role.HANDLER, unit)
            uc.sign(self.engine, number, self.stamp(handler, now))
            plan.pairs.append((number, "close", unit))  # two closes: the second is illegal
        return plan

    def overdue(self, plan: Load, count: int) -> None:
        """Grievances accepted ten days ago (half urgent, a third assigned an hour later):
        every warning, red card and 督办 of theirs is due now."""
        from service import cases as uc

        now = datetime.now(UTC)
        ten_days_ago = now - timedelta(days=10)
        for i in range(count):
            number = self.accept(ten_days_ago, urgent=i % 2 == 1)
            if i % 3 == 0:
                unit = UNITS[i % len(UNITS)]
                later = self.stamp(self.desk, ten_days_ago + timedelta(hours=1))
                uc.assign(self.engine, number, later, unit=unit)
            plan.overdue.append(number)
        plan.loaded_at = datetime.now(UTC)


WHO = "_who"  # who acts, kept beside the form until the run is created and stamped


def _who(actor: str, role: str, unit: str | None = None) -> dict[str, Any]:
    return {WHO: (actor, role, unit)}


def stamped(engine: Any, action: str, params: dict[str, Any]) -> dict[str, Any]:
    """The run's parameters as the gate would send them: the form without who acts, plus the
    identity stamp of the account named (made on first use, as an admin would)."""
    from service import accounts, stamps
    from service.acting import Stamp
    from workflow.actor import Actor
    from workflow.vocab import Role

    form = dict(params["params"])
    name, role, unit = form.pop(WHO)
    identity = accounts.active_identity(engine, name)
    if identity is None:
        now = datetime.now(UTC)
        ops = Stamp(actor=Actor("bench", Role.DISPATCHER), at=now, recorded_at=now)
        view, _ = accounts.add_user(
            engine,
            ops,
            name=name,
            role=role,
            unit=unit,  # a generated password: no login
        )
        identity = view.identity
    sent: dict[str, Any] = {**params, "params": form}
    sent["stamp"] = stamps.issue(identity, f"action:{action}", datetime.now(UTC), sent)
    return sent


def chain_step(chain: Chain, actor: str) -> Sub:
    action, number, unit = chain.steps[chain.next], chain.number, chain.unit
    fields: dict[str, Any] = {"number": number}
    if action == "assign":
        fields |= {"unit": unit, **_who(actor, "dispatcher")}
    elif action == "sign":
        fields |= _who(actor, "handler", unit)
    elif action == "feedback":
        fields |= {"note": "已联系货主，约定本周五前结清", **_who(actor, "handler", unit)}
    else:
        fields |= {"result": "resolved", "note": "运费已结清", **_who(actor, "handler", unit)}
    return Sub("chain", action, {"params": fields}, actor=actor, number=number)


def accept_run(ref: str, actor: str) -> Sub:
    fields = {
        "channel": "hotline_12328",
        "ref": ref,
        "type": "complaint",
        "category": "toll_etc",
        "name": "李师傅",
        "phone": "13912345678",
        "description": "ETC重复扣费，要求退还",
        **_who(actor, "dispatcher"),
    }
    return Sub("accept", "accept", {"params": fields}, actor=actor, ref=ref)


def pair_runs(number: str, kind: str, unit: str | None, index: int, actors: Actors) -> list[Sub]:
    subs = []
    for k in range(2):
        actor = actors.next()
        if kind == "assign":
            other = UNITS[(index + k) % len(UNITS)]
            fields = {"number": number, "unit": other, "expect_version": 1}
            fields |= _who(actor, "dispatcher")
        else:
            fields = {"number": number, "result": "resolved", "note": f"办结（{k + 1}）"}
            fields |= _who(actor, "handler", unit)
        subs.append(Sub("pair", kind, {"params": fields}, actor, number, group=index))
    return subs


# ------------------------------------------------------------------------------ the driver
@dataclass
class Driver:
    deployments: dict[str, uuid.UUID]
    inflight_cap: int
    create_concurrency: int
    say_progress: Any
    workers_alive: Callable[[], bool] = lambda: True
    engine: Any = None  # where the accounts the runs act as are made
    subs: list[Sub] = field(default_factory=list)
    creation_errors: list[str] = field(default_factory=list)
    inflight: dict[uuid.UUID, Sub] = field(default_factory=dict)

    async def create(self, client: Any, batch: list[Sub]) -> None:
        gate = asyncio.Semaphore(self.create_concurrency)

        async def one(sub: Sub) -> None:
            async with gate:
                name = sub.deployment
                if sub.number:
                    name = f"{name} {sub.number}"
                elif sub.ref:
                    name = f"{name} {sub.ref}"
                try:
                    parameters = sub.params
                    if WHO in parameters.get("params", {}):
                        parameters = await asyncio.to_thread(
                            stamped, self.engine, sub.deployment, parameters
                        )
                    run = await client.create_flow_run_from_deployment(
                        self.deployments[sub.deployment],
                        parameters=parameters,
                        name=name,
                        tags=["bench-workers", f"bench:{sub.kind}"],
                    )
                except Exception as error:  # noqa: BLE001 - counted, reported, checked
                    self.creation_errors.append(f"{sub.deployment}: {error!r}"[:300])
                    sub.state, sub.message = "NOT CREATED", repr(error)[:300]
                    return
                sub.run_id, sub.created = run.id, time.monotonic()
                self.inflight[run.id] = sub

        self.subs += batch
        await asyncio.gather(*(one(sub) for sub in batch))

    async def poll(self, client: Any) -> list[Sub]:
        """Read the states of the runs in flight; return those that have finished."""
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        ids = list(self.inflight)
        finished = []
        for start in range(0, len(ids), 200):
            chunk = ids[start : start + 200]
            runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=chunk)), limit=len(chunk)
            )
            for run in runs:
                if run.state is not None and run.state.type.value in TERMINAL:
                    sub = self.inflight.pop(run.id)
                    sub.state, sub.message = run.state.type.value, run.state.message
                    sub.done = time.monotonic()
                    finished.append(sub)
        return finished

    async def wait_all(self, client: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.inflight:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.inflight)} run(s) not finished in {timeout:.0f} s")
            await asyncio.sleep(1)
            await self.poll(client)
            self.say_progress(self)


async def drive(
    driver: Driver,
    plan: Load,
    actions: int,
    watchdogs: int,
    actors: Actors,
    timeout: float,
    seed: int,
    halfway: Callable[[], None],
) -> tuple[float, float]:
    """Create every run (bounded), wait for all; return (first creation, last finish).
    Half-way, `halfway` loads more overdue grievances for the second watchdog burst."""
    from prefect.client.orchestration import get_client

    rng = random.Random(seed)
    ready: deque[list[Sub]] = deque()
    items: list[list[Sub]] = [[chain_step(c, actors.next())] for c in plan.chains]
    for ref in plan.accepts:
        items.append([accept_run(ref, actors.next())])
    for index, (number, kind, unit) in enumerate(plan.pairs):
        items.append(pair_runs(number, kind, unit, index, actors))
    rng.shuffle(items)
    ready.extend(items)
    chain_of = {c.number: c for c in plan.chains}
    created_actions = 0
    burst_done = False
    started = time.monotonic()
    deadline = started + timeout
    async with get_client() as client:
        await driver.create(client, [watchdog_sub(i) for i in range(watchdogs)])
        while ready or driver.inflight:
            if not driver.workers_alive():
                raise RuntimeError("a worker stopped; see its log")
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"not finished in {timeout:.0f} s: {created_actions} of {actions} created"
                )
            room = driver.inflight_cap - len(driver.inflight)
            batch: list[Sub] = []
            while ready and len(batch) < room:
                batch += ready.popleft()
            if batch:
                created_actions += len(batch)
                await driver.create(client, batch)
            if not burst_done and created_actions >= actions // 2:
                burst_done = True
                await asyncio.to_thread(halfway)
                await driver.create(client, [watchdog_sub(i) for i in range(watchdogs)])
            await asyncio.sleep(1)
            for sub in await driver.poll(client):
                chain = chain_of.get(sub.number or "") if sub.kind == "chain" else None
                if chain is None or sub.state != "COMPLETED":
                    continue  # a chain stops at a failed step (a violation, checked later)
                chain.next += 1
                if chain.next < len(chain.steps):
                    ready.append([chain_step(chain, actors.next())])
            driver.say_progress(driver)
        last = max((s.done for s in driver.subs if s.kind != "watchdog"), default=started)
        # the last watchdog, after everything: what an earlier one left must go now
        await driver.create(client, [watchdog_sub(watchdogs)])
        await driver.wait_all(client, max(60.0, deadline - time.monotonic()))
    return started, last


def watchdog_sub(index: int) -> Sub:
    return Sub("watchdog", "sla-watchdog", {}, group=index)


# -------------------------------------------------------------------------------- checking
@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    lines: list[tuple[str, str]] = field(default_factory=list)

    def check(self, ok: bool, what: str, detail: str = "") -> None:
        self.lines.append((("ok    " if ok else "FAILED") + " " + what, detail))
        if not ok:
            self.problems.append(f"{what}: {detail}")

    def figure(self, what: str, value: str) -> None:
        self.lines.append((what, value))


def check_runs(driver: Driver, plan: Load, actions: int, report: Report) -> None:
    action_subs = [s for s in driver.subs if s.kind != "watchdog"]
    report.check(
        len(action_subs) == actions,
        "action runs created",
        f"{len(action_subs):,} of {actions:,} (a chain stops at a failed step)",
    )
    not_final = [s for s in driver.subs if s.state not in TERMINAL]
    report.check(not not_final, "every run reached a terminal state", f"{len(not_final)} not")
    wrong = [
        f"{s.deployment} {s.number or s.ref}: {s.state} {s.message or ''}".strip()
        for s in driver.subs
        if s.kind in ("chain", "accept", "watchdog") and s.state != "COMPLETED"
    ]
    report.check(not wrong, "chain, accept and watchdog runs Completed", "; ".join(wrong[:5]))
    pairs: dict[int, list[Sub]] = defaultdict(list)
    for sub in driver.subs:
        if sub.kind == "pair" and sub.group is not None:
            pairs[sub.group].append(sub)
    bad_pairs = [
        f"{runs[0].deployment} {runs[0].number}: {[r.state for r in runs]}"
        for runs in pairs.values()
        if sorted(r.state or "" for r in runs) != ["COMPLETED", "FAILED"]
    ]
    report.check(
        not bad_pairs,
        "each conflicting pair: one Completed, one Failed",
        "; ".join(bad_pairs[:5]) or f"{len(pairs)} pairs",
    )
    reasons = Counter(
        _reason(s.message or "") for s in driver.subs if s.kind == "pair" and s.state == "FAILED"
    )
    report.figure(
        "why the losing runs of the pairs failed",
        ", ".join(f"{reason} {n}" for reason, n in reasons.items()),
    )


def _reason(message: str) -> str:
    if "not " in message and "version" in message:
        return "stale expected version (Conflict):"
    if "at the same time" in message or "while you worked" in message:
        return "concurrent write (Conflict):"
    if "can't" in message:
        return "illegal move:"
    return message[:60] + ":"


def check_database(engine: Any, driver: Driver, plan: Load, report: Report, inbox: Path) -> None:
    from sqlmodel import col, func, select

    from models.tables import (
        Grievance,
        GrievanceEvent,
        Notification,
        NotificationAttempt,
        SlaTimer,
    )
    from service.timers import check_timers
    from workflow.vocab import Event

    action_subs = [s for s in driver.subs if s.kind != "watchdog" and s.actor]
    with engine.db.read() as session:
        events = session.exec(
            select(GrievanceEvent).where(col(GrievanceEvent.actor).startswith("bench-"))
        ).all()
        by_actor: dict[str, list[Any]] = defaultdict(list)
        for event in events:
            by_actor[event.actor].append(event)
        refs = dict(
            session.exec(
                select(Grievance.ref, Grievance.number).where(
                    col(Grievance.ref).in_([s.ref for s in action_subs if s.ref])
                )
            ).all()
        )
        states = dict(
            session.exec(
                select(Grievance.number, Grievance.state).where(
                    col(Grievance.number).in_([c.number for c in plan.chains])
                )
            ).all()
        )
        steps = session.exec(
            select(GrievanceEvent.number, GrievanceEvent.payload).where(
                GrievanceEvent.event == Event.SLA_STEP
            )
        ).all()
        left = session.exec(
            select(func.count())
            .select_from(SlaTimer)
            .where(col(SlaTimer.next_fire_at) <= plan.loaded_at)
        ).one()
        notifications = session.exec(select(Notification.dedupe_key, Notification.status)).all()
        sent_ok = session.exec(
            select(NotificationAttempt.notification_id, func.count())
            .where(NotificationAttempt.ok == True)  # noqa: E712 - SQL, not Python
            .group_by(col(NotificationAttempt.notification_id))
        ).all()
    wrong = []
    for sub in action_subs:
        got = by_actor.get(sub.actor or "", [])
        expected_number = refs.get(sub.ref) if sub.ref else sub.number
        if sub.state == "COMPLETED":
            ok = (
                len(got) == 1
                and got[0].event.value == sub.deployment
                and got[0].number == expected_number
            )
        else:
            ok = not got
        if not ok:
            seen = [(e.number, e.event.value) for e in got]
            wrong.append(f"{sub.deployment} {sub.number or sub.ref} ({sub.state}): {seen}")
    completed = sum(1 for s in action_subs if s.state == "COMPLETED")
    report.check(
        not wrong and len(events) == completed,
        "each completed action exactly once in the audit log, a failed one not at all",
        "; ".join(wrong[:5]) or f"{len(events):,} events for {completed:,} completed runs",
    )
    finished = [c for c in plan.chains if c.next == len(c.steps)]
    off = [
        c.number
        for c in finished
        if getattr(states.get(c.number), "value", None) != NEXT_STATE[c.steps[-1]]
    ]
    report.check(
        not off,
        "every finished chain left its grievance in the state its last step gives",
        ", ".join(off[:5]) or f"{len(finished)} chains",
    )
    keys = Counter((number, p.get("target"), p.get("cycle"), p.get("step")) for number, p in steps)
    twice = [k for k, n in keys.items() if n > 1]
    report.check(
        not twice,
        "no SLA step recorded twice (grievance, target, cycle, step)",
        f"{twice[:3]}"
        if twice
        else f"{len(steps):,} steps on {len({k[0] for k in keys})} grievances",
    )
    report.check(
        left == 0, "no SLA step left that was due when the data was loaded", f"{left} left"
    )
    problems = check_timers(engine)
    report.check(
        not problems,
        "stored timers equal the replay of the audit log (grievance sla check)",
        "; ".join(problems[:3]),
    )
    dedupe = Counter(key for key, _ in notifications)
    sent = sum(1 for _, status in notifications if status == "sent")
    twice_sent = [nid for nid, n in sent_ok if n > 1]
    lines = sum(
        1 for path in inbox.glob("*.jsonl") for line in path.read_text("utf-8").splitlines() if line
    )
    statuses = Counter(status for _, status in notifications)
    report.check(
        all(n == 1 for n in dedupe.values()) and not twice_sent and lines == sent,
        "no notification queued or sent twice (dedupe keys, attempts, inbox lines)",
        f"{len(notifications):,} queued ({dict(statuses)}), {lines:,} inbox lines, "
        f"{len(twice_sent)} sent twice",
    )


async def run_details(ids: list[uuid.UUID]) -> list[Any]:
    """The flow runs as the API has them."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    runs: list[Any] = []
    async with get_client() as client:
        for start in range(0, len(ids), 200):
            chunk = ids[start : start + 200]
            runs += await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=chunk)), limit=len(chunk)
            )
    return runs


async def watchdog_runs() -> tuple[list[Any], dict[uuid.UUID, list[str]]]:
    """Every run of the sla-watchdog deployment (ours and the scheduled ones) and its logs."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterName,
        LogFilter,
        LogFilterFlowRunId,
    )

    async with get_client() as client:
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["sla-watchdog"])),
            flow_run_filter=_in_states(*TERMINAL),
            limit=200,
        )
        logs: dict[uuid.UUID, list[str]] = defaultdict(list)
        if runs:
            offset = 0
            while True:
                page = await client.read_logs(
                    log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[r.id for r in runs])),
                    limit=200,
                    offset=offset,
                )
                for entry in page:
                    if entry.flow_run_id is not None:
                        logs[entry.flow_run_id].append(entry.message)
                if len(page) < 200:
                    break
                offset += 200
    return runs, logs


def _fired(lines: list[str]) -> int:
    import re

    for line in lines:
        found = re.match(r"fired (\d+) step", line)
        if found:
            return int(found.group(1))
    return 0


def _max_overlap(spans: list[tuple[datetime, datetime]]) -> int:
    points = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    best = current = 0
    for _, delta in points:
        current += delta
        best = max(best, current)
    return best


def check_spread(runs: list[Any], workers: int, driver: Driver, report: Report) -> None:
    kind = {s.run_id: s.kind for s in driver.subs}
    per_worker: dict[str, Counter[str]] = defaultdict(Counter)
    hosts: dict[str, set[str]] = defaultdict(set)
    for run in runs:
        name = run.labels.get("prefect.worker.name", "?") if run.labels else "?"
        per_worker[name]["watchdog" if kind.get(run.id) == "watchdog" else "action"] += 1
        if run.infrastructure_pid:
            hosts[name].add(str(run.infrastructure_pid))
    names = sorted(n for n in per_worker if n != "?")
    report.check(
        len(names) == workers and all(per_worker[n]["action"] > 0 for n in names),
        f"runs spread over all {workers} workers (flow run label prefect.worker.name)",
        ", ".join(
            f"{n}: {per_worker[n]['action']:,} actions + {per_worker[n]['watchdog']} watchdog "
            f"in {len(hosts[n])} processes"
            for n in sorted(per_worker)
        ),
    )


def figures(
    driver: Driver,
    runs: list[Any],
    wd_runs: list[Any],
    wd_logs: dict[uuid.UUID, list[str]],
    span: tuple[float, float],
    report: Report,
) -> None:
    actions = [s for s in driver.subs if s.kind != "watchdog"]
    wall = span[1] - span[0]
    report.figure("action runs: wall time, first creation to last finish", f"{wall:.1f} s")
    report.figure("throughput", f"{len(actions) / wall:.2f} action runs/s")
    states = Counter(s.state or "NONE" for s in driver.subs)
    report.figure(
        "final states (all runs)", ", ".join(f"{k.lower()} {v:,}" for k, v in states.items())
    )
    report.figure(
        "creation errors (after the client's own retries)", str(len(driver.creation_errors))
    )
    by_id = {run.id: run for run in runs}
    waits, durations = [], []
    for sub in actions:
        run = by_id.get(sub.run_id)
        if run is None or run.start_time is None or run.end_time is None:
            continue
        waits.append((run.start_time - run.created).total_seconds())
        durations.append((run.end_time - run.start_time).total_seconds())
    if waits:
        waits.sort()
        durations.sort()
        report.figure(
            "created -> running (median, p95)",
            f"{statistics.median(waits):.1f} s, {waits[int(len(waits) * 0.95) - 1]:.1f} s",
        )
        report.figure(
            "running -> finished (median, p95)",
            f"{statistics.median(durations):.1f} s, {durations[int(len(durations) * 0.95) - 1]:.1f} s",
        )
    ours = {s.run_id for s in driver.subs if s.kind == "watchdog"}
    spans = [(r.start_time, r.end_time) for r in wd_runs if r.start_time and r.end_time]
    fired = [
        f"{_fired(wd_logs.get(r.id, []))}{'' if r.id in ours else ' (scheduled)'}"
        for r in sorted(wd_runs, key=lambda r: r.start_time or r.created)
    ]
    report.figure(
        f"watchdog runs: {len(wd_runs)} ({len(ours)} triggered, {len(wd_runs) - len(ours)} "
        f"scheduled), at most {_max_overlap(spans)} at once",
        "steps fired by each, in start order: " + " ".join(fired),
    )


# -------------------------------------------------------------------------------- running
class Progress:
    def __init__(self, actions: int) -> None:
        self.actions, self.last, self.tty = actions, 0.0, sys.stderr.isatty()
        self.start = time.monotonic()

    def __call__(self, driver: Driver) -> None:
        now = time.monotonic()
        if now - self.last < (1 if self.tty else 10):
            return
        self.last = now
        subs = [s for s in driver.subs if s.kind != "watchdog"]
        done = [s for s in subs if s.state in TERMINAL]
        states = Counter(s.state or "" for s in done)
        rate = len(done) / max(now - self.start, 1e-9)
        line = (
            f"actions created {len(subs):,}/{self.actions:,}, finished {len(done):,} "
            f"({', '.join(f'{k.lower()} {v}' for k, v in sorted(states.items()))}), "
            f"in flight {len(driver.inflight)}, {rate:.2f} runs/s, {now - self.start:.0f} s"
        )
        sys.stderr.write(("\r" + line + "   ") if self.tty else line + "\n")
        sys.stderr.flush()


def _say(message: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


async def _deployment_ids() -> dict[str, uuid.UUID]:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        deployments = await client.read_deployments()
    return {d.name: d.id for d in deployments}


async def _pull_steps(deployment_id: uuid.UUID) -> Any:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        return (await client.read_deployment(deployment_id)).pull_steps


def _in_states(*types: str) -> Any:
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    wanted = FlowRunFilterStateType(any_=[StateType(t) for t in types])
    return FlowRunFilter(state=FlowRunFilterState(type=wanted))


async def _schedules(pause: bool) -> dict[str, list[dict[str, Any]]]:
    """Each deployment's schedules as the server has them (in prefect.yaml's form); with
    `pause`, turned off and their runs not yet started deleted (the bench triggers the
    watchdog itself, so the figures count only the runs it made)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    found: dict[str, list[dict[str, Any]]] = {}
    async with get_client() as client:
        for deployment in await client.read_deployments():
            schedules = await client.read_deployment_schedules(deployment.id)
            found[deployment.name] = [_schedule(s.schedule) for s in schedules]
            if not (pause and schedules):
                continue
            for schedule in schedules:
                await client.update_deployment_schedule(deployment.id, schedule.id, active=False)
            waiting = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
                flow_run_filter=_in_states("SCHEDULED"),
            )
            for run in waiting:
                await client.delete_flow_run(run.id)
    return found


async def _drain(timeout: float) -> int:
    """Pause the pool (no new run starts), wait for what runs; return how many still run."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolUpdate

    running = _in_states("RUNNING", "PENDING")
    async with get_client() as client:
        await client.update_work_pool(POOL, WorkPoolUpdate(is_paused=True))
        deadline = time.monotonic() + timeout
        while True:
            left = await client.count_flow_runs(flow_run_filter=running)
            if not left or time.monotonic() > deadline:
                return int(left)
            await asyncio.sleep(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=1000, help="action flow runs to create")
    parser.add_argument("--workers", type=int, default=2, help="Prefect workers to start")
    parser.add_argument("--limit", type=int, default=4, help="flow runs at once per worker")
    parser.add_argument("--inflight", type=int, default=40, help="action runs not yet finished")
    parser.add_argument("--watchdogs", type=int, default=4, help="watchdog runs per burst")
    parser.add_argument("--overdue", type=int, help="overdue grievances (default actions/2)")
    parser.add_argument("--pg", help="PostgreSQL server URL (default: scripts/postgres url)")
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="seconds for the runs")
    parser.add_argument(
        "--schedules", action="store_true", help="leave the schedules on (default: paused)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    parser.add_argument(
        "--write-prefect-yaml", action="store_true", help="regenerate prefect.yaml and exit"
    )
    args = parser.parse_args(argv)
    if args.write_prefect_yaml:
        PREFECT_YAML.write_text(prefect_yaml_text(), encoding="utf-8")
        print(f"wrote {PREFECT_YAML}")
        return 0
    if args.workers < 1 or args.actions < 1:
        parser.error("--workers and --actions must be at least 1")
    plan_sizes(args.actions)  # refuses a count too small for the plan
    base = args.pg or os.environ.get("GRIEVANCE_TEST_PG_URL") or default_pg_url()
    if not pg_reachable(base):
        print(f"error: no PostgreSQL server at {base} (scripts/postgres start)", file=sys.stderr)
        return 2
    from flows.prefect_server import interrupt_on_sigterm

    interrupt_on_sigterm()
    return run(args, base)


def run(args: argparse.Namespace, base: str) -> int:
    tag = f"{os.getpid() % 100000:05d}{random.randrange(1000):03d}"  # noqa: S311
    g_name, p_name = f"workers_{tag}_grievance", f"workers_{tag}_prefect"
    tmp = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    logs, inbox = tmp / "logs", tmp / "inbox"
    logs.mkdir()
    grievance_url = _database_url(base, g_name, "postgresql+psycopg")
    prefect_db_url = _database_url(base, p_name, "postgresql+asyncpg")
    overdue = args.overdue if args.overdue is not None else max(10, args.actions // 2)
    report = Report()
    timings: list[tuple[str, str]] = []
    common = {
        "GRIEVANCE_DATABASE_URL": grievance_url,
        "GRIEVANCE_INBOX_DIR": str(inbox),
        "GRIEVANCE_REPORT_DIR": str(tmp / "reports"),
        "GRIEVANCE_NOTIFY_DESK": "inbox://desk",
        "GRIEVANCE_NOTIFY_SUPERVISOR": "inbox://bureau-supervisor",
        "GRIEVANCE_NOTIFY_LEADERSHIP": "inbox://leadership",
        "PREFECT_HOME": str(tmp / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_RUNNER_AUTO_INSTALL_DEPENDENCIES": "false",
        # the key the runs check their identity stamps with (the bench signs them, as the gate)
        "GRIEVANCE_STAMP_KEY": os.environ.get("GRIEVANCE_STAMP_KEY") or secrets.token_urlsafe(32),
        # Every flow run is a new interpreter: let them share compiled bytecode (outside the
        # venv), as an ordinary installation does; PYTHONDONTWRITEBYTECODE=1 would make each
        # one compile Prefect again (~1 s of CPU per run here).
        "PYTHONPYCACHEPREFIX": os.environ.get("PYTHONPYCACHEPREFIX") or str(tmp / "pycache"),
    }
    for name in (
        "PREFECT_API_URL",
        CHECKOUT_ENV,
        "GRIEVANCE_WATCHDOG_INTERVAL",
        "PREFECT_API_DATABASE_CONNECTION_URL",
    ):
        os.environ.pop(name, None)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ.update(common)
    processes = Processes(logs)
    created: list[str] = []
    engine = None
    loading: dict[str, Any] = {}
    loading_thread: threading.Thread | None = None
    t0 = time.monotonic()
    try:
        _admin(base, f"CREATE DATABASE {g_name}")
        created.append(g_name)
        _admin(base, f"CREATE DATABASE {p_name}")
        created.append(p_name)
        from flows.prefect_server import prefect_api
        from service.engine import Engine

        def load_data() -> None:
            """The grievance side needs no Prefect: migrated and loaded while it starts."""
            try:
                began = time.monotonic()
                loading["engine"] = opened = Engine.open(grievance_url)
                loader = Loader(opened, tag)
                loader.units()
                plan = loader.plan(args.actions)
                loader.overdue(plan, overdue - overdue // 2)
                loading.update(loader=loader, plan=plan, took=time.monotonic() - began)
            except BaseException as error:  # noqa: BLE001 - raised again by the main thread
                loading["error"] = error

        loading_thread = threading.Thread(target=load_data, name="load", daemon=True)
        loading_thread.start()
        os.environ["PREFECT_API_DATABASE_CONNECTION_URL"] = prefect_db_url
        with prefect_api(port=_free_port(), timeout=180, say=_say) as api_url:
            os.environ.pop("PREFECT_API_DATABASE_CONNECTION_URL", None)
            timings.append(
                ("databases + Prefect server on PostgreSQL", f"{time.monotonic() - t0:.1f} s")
            )
            env = dict(os.environ)
            worker_env = {
                **env,
                CHECKOUT_ENV: str(ROOT),
                "PREFECT_API_URL": api_url,
                "PREFECT_WORKER_QUERY_SECONDS": "2",
                # the venv first, as `source .venv/bin/activate` does: ENGINE_COMMAND's python
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            }
            t1 = time.monotonic()
            _prefect(["work-pool", "create", POOL, "--type", "process"], env, logs / "cli.log")
            for i in range(1, args.workers + 1):  # they start while the deployments are made
                processes.start(
                    f"worker-{i}",
                    [
                        sys.executable,
                        "-m",
                        "prefect",
                        "worker",
                        "start",
                        "--pool",
                        POOL,
                        "--name",
                        f"bench-worker-{i}",
                        "--limit",
                        str(args.limit),
                    ],
                    worker_env,
                )
            _say(f"started {args.workers} workers (logs: {logs})")
            _prefect(
                ["--no-prompt", "deploy", "--all", "--prefect-file", str(PREFECT_YAML)],
                env,
                logs / "cli.log",
            )
            deployment_ids = asyncio.run(_deployment_ids())
            timings.append(
                (
                    f"work pool, workers, prefect deploy --all ({len(deployment_ids)} deployments)",
                    f"{time.monotonic() - t1:.1f} s",
                )
            )
            wanted = {d["name"]: d.get("schedules", []) for d in prefect_yaml_data()["deployments"]}
            registered = asyncio.run(_schedules(pause=not args.schedules))
            differ = {
                name: (wanted.get(name), registered.get(name))
                for name in set(wanted) | set(registered)
                if wanted.get(name) != registered.get(name)
            }
            report.check(
                not differ,
                "prefect deploy --all registered prefect.yaml (names, schedules)",
                f"differ (prefect.yaml, server): {differ}"
                if differ
                else f"{len(registered)} deployments, "
                f"{sum(1 for v in registered.values() if v)} with schedules"
                + ("" if args.schedules else " (paused for the bench)"),
            )
            pull = asyncio.run(_pull_steps(deployment_ids["sla-watchdog"]))
            step = (pull or [{}])[0].get("prefect.deployments.steps.set_working_directory", {})
            report.check(
                step.get("directory") == "{{ $" + CHECKOUT_ENV + " }}",
                "the pull step is resolved on each worker",
                f"directory {step.get('directory')!r}",
            )
            loading_thread.join()
            engine = loading.get("engine")
            if "error" in loading:
                raise loading["error"]
            loader, plan = loading["loader"], loading["plan"]
            timings.append(
                ("data loaded directly (use cases, meanwhile)", f"{loading['took']:.1f} s")
            )
            _say(
                f"loaded {loader.serial} grievances directly ({len(plan.chains)} for chains, "
                f"{len(plan.pairs)} for conflicting pairs, {len(plan.overdue)} overdue; "
                f"{overdue // 2} more overdue half-way)"
            )
            actors = Actors(tag[-3:])
            driver = Driver(
                deployments=deployment_ids,
                inflight_cap=args.inflight,
                create_concurrency=8,
                say_progress=Progress(args.actions),
                workers_alive=processes.all_running,
                engine=loader.engine,
            )
            _say(f"creating {args.actions:,} action runs, at most {args.inflight} in flight")
            try:
                span = asyncio.run(
                    drive(
                        driver,
                        plan,
                        args.actions,
                        args.watchdogs,
                        actors,
                        args.timeout,
                        args.seed,
                        lambda: loader.overdue(plan, overdue // 2),
                    )
                )
            finally:
                sys.stderr.write("\n")
                processes.note_descendants()
            _say("all runs finished; checking")
            still = asyncio.run(_drain(120))
            if still:
                _say(f"{still} scheduled run(s) still running after the pool was paused")
            check_runs(driver, plan, args.actions, report)
            check_database(engine, driver, plan, report, inbox)
            ids = [s.run_id for s in driver.subs if s.run_id is not None]
            runs = asyncio.run(run_details(ids))
            wd_runs, wd_logs = asyncio.run(watchdog_runs())
            check_spread(runs, args.workers, driver, report)
            figures(driver, runs, wd_runs, wd_logs, span, report)
    except KeyboardInterrupt:
        report.problems.append("interrupted")
    except Exception as error:  # noqa: BLE001 - reported, then everything is cleaned up
        import traceback

        traceback.print_exc()
        report.problems.append(f"stopped by {type(error).__name__}: {error}")
    finally:
        processes.stop()
        if loading_thread is not None:
            loading_thread.join(timeout=300)
        engine = loading.get("engine")
        if engine is not None:
            engine.db.dispose()
        for name in created:
            try:
                _admin(base, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            except Exception as error:  # noqa: BLE001 - reported, the rest still dropped
                _say(f"could not drop {name}: {error}")
    total = time.monotonic() - t0
    import prefect

    print(
        f"\nseveral workers: {args.actions:,} actions on {args.workers} Prefect workers "
        f"(process pool, --limit {args.limit} each), Prefect {prefect.__version__}, "
        f"server and grievances on PostgreSQL"
    )
    rows = timings + report.lines + [("total, set-up to clean-up", f"{total:.1f} s")]
    width = max((len(r[0]) for r in rows), default=0)
    for what, value in rows:
        print(f"  {what:<{width}}  {value}")
    for problem in report.problems:
        print(f"FAILED: {problem}")
    if report.problems or args.keep:
        print(f"logs kept in {tmp}")
    else:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if report.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
