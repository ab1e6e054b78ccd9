"""The dispatcher's desk step: from "Submit" in the UI to the result visible in the UI.

    .venv/bin/python -m bench.desk_step [--steps 12] [--dir DIR] [--methods spawn,forkserver]

For each way the served runner starts runs (`GRIEVANCE_RUNNER_START`, `flows.runner_start`:
`spawn` is Prefect's own `serve`, the old path, measured with main's 2 s runner poll;
`forkserver` the new default, with the new default poll of 0.5 s), one after the other in
this one run:

1. A real `grievance serve` (`tests.gateway.served.start`: its own SQLite databases, Prefect
   home and ports; units and accounts made by the command line), with the SLA watchdog
   running every 15 s (`GRIEVANCE_WATCHDOG_INTERVAL`; 60 s in production), the runner polling as configured
   (`GRIEVANCE_RUNNER_POLL`, default of `flows.scheduled.runner_poll`).
2. The desk's account signs in through the gate's `/login` (the session cookie) and then only
   makes the HTTP calls the Prefect UI makes through the gate:
   - **action**: `--steps` accepts, one at a time, as the deployment's Run form submits
     them (`POST /api/deployments/{id}/create_flow_run`), each timed until the run reads
     Completed (`GET /api/flow_runs/{id}`, every 100 ms);
   - **resume**: for each grievance so accepted, once the watchdog has suspended its case
     run (`case <number>`, waiting for the desk's 分办 form), the Resume form's submit
     (`POST /api/flow_runs/{id}/resume` with `run_input` {action 分办 assign, unit ROAD}),
     timed until the run shows the next form (Paused under a new pause key: the unit's form
     for an assigned grievance, `assigned-...`) or Completed.
   Every step must succeed (the accept Completed, the resumed run on the unit's form and the
   grievance assigned to ROAD): FAILED otherwise.
3. Median and p95 of each kind, per method, side by side; the issue's goal is a median of at
   most 1.5 s and a p95 of at most 3 s for the step.
Everything started is stopped at the end, also on errors and Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

GOAL_MEDIAN, GOAL_P95 = 1.5, 3.0
POLL = 0.1
SETTLE = 15
WATCHDOG = 15  # seconds between watchdog runs (60 in production)
ACCEPT = {
    "channel": "hotline_12328",
    "type": "complaint",
    "category": "freight_unpaid",
    "name": "王建国",
    "phone": "13755556666",
    "description": "货主拖欠运费3500元",
    "plate": "川A77777",
}


@dataclass
class Timings:
    method: str
    action: list[float] = field(default_factory=list)
    resume: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]


def _wait(client: httpx.Client, run_id: str, done: Any, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/api/flow_runs/{run_id}").json()
        if done(run):
            return dict(run)
        time.sleep(POLL)
    raise TimeoutError(f"run {run_id}: not done in {timeout} s")


def _state(run: dict[str, Any]) -> str:
    return str((run.get("state") or {}).get("type") or "")


def _pause_key(run: dict[str, Any]) -> str | None:
    details = (run.get("state") or {}).get("state_details") or {}
    return details.get("pause_key")


def _states(client: httpx.Client, run_id: str, began: float, wall: float) -> str:
    """The run's states since `wall` (time.time() at Submit), seconds after Submit: where the
    time went (Scheduled -> Pending: the runner's poll; Pending -> Running: the process)."""
    from datetime import datetime

    answer = client.get("/api/flow_run_states/", params={"flow_run_id": run_id})
    if answer.status_code != 200:
        return ""
    shown = []
    for state in answer.json():
        at = datetime.fromisoformat(state["timestamp"]).timestamp() - wall
        if at >= -0.5:
            shown.append(f"{state['name']}@{at:.2f}")
    return " ".join(shown)


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    """POST as the UI does; a 503 (SQLite "database is locked" under load) is tried again
    up to 5 times, the time counted in the step."""
    for _ in range(5):
        answer = client.post(path, json=body)
        if answer.status_code != 503:
            break
        time.sleep(0.2)
    return answer


def _case_run(client: httpx.Client, number: str, timeout: float = 120) -> dict[str, Any]:
    """The case run of `number` once the watchdog has suspended it with its first form."""
    deadline = time.monotonic() + timeout
    body = {"flow_runs": {"name": {"any_": [f"case {number}"]}}, "limit": 5}
    while time.monotonic() < deadline:
        for run in client.post("/api/flow_runs/filter", json=body).json():
            if _state(run) == "PAUSED" and _pause_key(run):
                return dict(run)
        time.sleep(0.5)
    raise TimeoutError(f"no suspended case run for {number} in {timeout} s")


def measure(method: str, steps: int, home: Path, log: Any) -> Timings:
    from tests.gateway.served import start, stop

    os.environ["GRIEVANCE_RUNNER_START"] = method
    # before: Prefect's spawn with main's 2 s poll; after: the fork server, the default poll
    if method == "spawn":
        os.environ["GRIEVANCE_RUNNER_POLL"] = "2"
    else:
        os.environ.pop("GRIEVANCE_RUNNER_POLL", None)
    os.environ["GRIEVANCE_WATCHDOG_INTERVAL"] = str(WATCHDOG)
    timings = Timings(method)
    home.mkdir(parents=True, exist_ok=True)
    log(f"[{method}] starting grievance serve in {home}")
    served = start(home)
    try:
        desk = served.session("desk")
        time.sleep(SETTLE)  # the watchdog runs the scheduler queued at start-up go first
        deployment = desk.get(f"/api/deployments/name/{quote('受理 accept')}/accept").json()["id"]
        numbers: list[str] = []
        for i in range(steps + 1):  # the first of each kind is a warm-up, not counted
            params = {**ACCEPT, "ref": f"BENCH-{method}-{i}"}
            began, wall = time.perf_counter(), time.time()
            created = _post(
                desk,
                f"/api/deployments/{deployment}/create_flow_run",
                {"parameters": {"params": params}},
            )
            created.raise_for_status()
            try:
                run = _wait(
                    desk,
                    created.json()["id"],
                    lambda r: _state(r) in ("COMPLETED", "FAILED", "CRASHED"),
                )
            except TimeoutError as error:
                timings.problems.append(f"accept {i}: {error}")
                continue
            elapsed = time.perf_counter() - began
            if _state(run) != "COMPLETED":
                timings.problems.append(f"accept {i}: {_state(run)} {run['state'].get('message')}")
                continue
            numbers.append(run["name"].split(" ", 1)[1])
            if i:
                timings.action.append(elapsed)
            log(f"[{method}] accept {i}: {elapsed:.2f} s  {_states(desk, run['id'], began, wall)}")
        for i, number in enumerate(numbers):
            try:
                case = _case_run(desk, number)
            except TimeoutError as error:
                timings.problems.append(str(error))
                continue
            before = _pause_key(case)
            began, wall = time.perf_counter(), time.time()
            answer = _post(
                desk,
                f"/api/flow_runs/{case['id']}/resume",
                {"run_input": {"action": "分办 assign", "unit": "ROAD"}},
            )
            if answer.status_code >= 300 or answer.json().get("status") != "ACCEPT":
                timings.problems.append(
                    f"resume {number}: {answer.status_code} {answer.text[:200]}"
                )
                continue
            try:
                run = _wait(
                    desk,
                    case["id"],
                    lambda r, old=before: (
                        _state(r) in ("COMPLETED", "FAILED", "CRASHED")
                        or (_state(r) == "PAUSED" and _pause_key(r) not in (None, old))
                    ),
                )
            except TimeoutError as error:
                timings.problems.append(f"resume {number}: {error}")
                continue
            elapsed = time.perf_counter() - began
            if _state(run) not in ("PAUSED", "COMPLETED") or not str(_pause_key(run)).startswith(
                "assigned-"
            ):
                timings.problems.append(f"resume {number}: {_state(run)} {_pause_key(run)}")
                continue
            if i:
                timings.resume.append(elapsed)
            log(
                f"[{method}] resume {number}: {elapsed:.2f} s -> {_pause_key(run)}"
                f"  {_states(desk, case['id'], began, wall)}"
            )
        shown = served.cli("list", "--json")
        assigned = {g["number"]: g for g in json.loads(shown.stdout)}
        for number in numbers:
            if assigned.get(number, {}).get("state") != "assigned":
                timings.problems.append(f"{number}: {assigned.get(number, {}).get('state')}")
    finally:
        stop(served)
    return timings


def _cell(values: list[float]) -> str:
    if not values:
        return "—"
    return f"{statistics.median(values):.2f} / {p95(values):.2f}"


def report(results: list[Timings], steps: int) -> str:
    lines = [
        f"desk step, {steps} steps each (median / p95 in s, from Submit to the result shown)",
        f"{'step':<10}" + "".join(f"{r.method:>22}" for r in results) + f"{'goal':>16}",
    ]
    for kind in ("action", "resume"):
        row = f"{kind:<10}" + "".join(f"{_cell(getattr(r, kind)):>22}" for r in results)
        lines.append(row + f"{'≤ 1.50 / ≤ 3.00':>16}")
    for result in results:
        for problem in result.problems:
            lines.append(f"FAILED [{result.method}] {problem}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.desk_step", description=__doc__)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--methods", default="spawn,forkserver")
    args = parser.parse_args(argv)
    root = args.dir or Path(tempfile.mkdtemp(prefix="desk-step-"))
    results = []
    for method in args.methods.split(","):
        results.append(measure(method, args.steps, root / method, lambda m: print(m, flush=True)))
    text = report(results, args.steps)
    print(text)
    return 1 if any(r.problems for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
