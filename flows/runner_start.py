"""How the served runner starts a run's process: forked from a pre-warmed fork server
(default) or spawned afresh, Prefect's own way (`GRIEVANCE_RUNNER_START=spawn`).

Prefect's runner starts every run of a served deployment (an action a dispatcher submitted, a
resumed case run) in a new process: `run_flow_in_subprocess` spawns a Python interpreter that
imports Prefect and the engine again, 2-4 s of CPU on this machine before the flow's first
line. With `forkserver` that interpreter is started once, when `grievance serve` starts, and
imports Prefect and every served flow (`PRELOAD`); each run's process is then forked from it
(tens of milliseconds) and runs exactly what the spawned one ran.

What stays the same: one process per run (a run that crashes or is cancelled is killed alone,
the serving process and the other runs go on), Prefect records every run, and a run's input
is applied by the run itself through the use case, as before (`flows.case_runs.apply`: the
identity stamp is spent once per run and input, a re-run after a crash finds the grievance
moved on and refuses the stale form with its reason). The fork server holds no connections
and no threads (it only imported modules); the run's settings and environment are set in the
child by Prefect as for a spawned process. If the fork server dies, the next run starts it
again (`multiprocessing.forkserver.ensure_running`).
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import multiprocessing.context
import multiprocessing.forkserver
import os
from types import SimpleNamespace
from typing import Any

from workflow.errors import InvalidInput

ENV_START = "GRIEVANCE_RUNNER_START"
_logger = logging.getLogger("grievance.serve")
METHODS = ("forkserver", "spawn")
# imported once by the fork server: Prefect's engine and every flow `grievance serve` serves;
# "__main__" (the `grievance` script) so a forked child does not import it again
PRELOAD = [
    "__main__",
    "prefect.flow_engine",
    "prefect.runner",
    "flows.scheduled",
    "flows.actions",
    "flows.action_runs",
    "flows.case_runs",
    "flows.importer",
    "flows.sla_watchdog",
    "flows.digests",
]


def start_method() -> str:
    """`forkserver` unless GRIEVANCE_RUNNER_START says `spawn` (Prefect's own way)."""
    raw = (os.environ.get(ENV_START) or "forkserver").strip().lower()
    if raw not in METHODS:
        raise InvalidInput(f"{ENV_START}={raw!r}: one of {', '.join(METHODS)}")
    return raw


def _forkserver_module() -> Any:
    """Stands in for `multiprocessing` inside `prefect.flow_engine`: its one use there is
    `multiprocessing.get_context("spawn")` in `run_flow_in_subprocess`."""
    context = multiprocessing.get_context("forkserver")
    return SimpleNamespace(
        get_context=lambda method=None: context,
        context=multiprocessing.context,
    )


def install(method: str | None = None) -> str:
    """Make the runner of this process start runs the chosen way; with `forkserver`, start
    the fork server now (it imports `PRELOAD` while the serving process starts up, so the
    first run is fast too). Returns the method used."""
    import prefect.flow_engine as flow_engine

    chosen = method or start_method()
    if chosen == "spawn":
        flow_engine.multiprocessing = multiprocessing  # type: ignore[attr-defined]
        return chosen
    multiprocessing.set_forkserver_preload(PRELOAD)
    multiprocessing.forkserver.ensure_running()
    flow_engine.multiprocessing = _forkserver_module()  # type: ignore[attr-defined]
    return chosen


def served_flow(entrypoint: str | None) -> Any:
    """The flow object a deployment's entrypoint (`flows/actions.py:accept`) names, already
    imported in this process; None when it names none."""
    from prefect import Flow

    if not entrypoint or ":" not in entrypoint:
        return None
    path, name = entrypoint.rsplit(":", 1)
    if not path.endswith(".py") or path.startswith(("/", ".")):
        return None
    try:
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    except ImportError:
        return None
    found = getattr(module, name, None)
    return found if isinstance(found, Flow) else None


def serve_warm(deployments: list[Any], *, query_seconds: float) -> None:
    """`prefect.serve` with the served flows known to the runner: a run of a deployment whose
    flow this process imported is started with that flow (`DirectSubprocessStarter`: forked
    from the fork server by `install`) instead of `python -m prefect.engine` loading it from
    storage again. Deployments whose flow is not found are run Prefect's usual way."""
    import asyncio

    from prefect.exceptions import TerminationSignal
    from prefect.flows import _display_serve_start_message
    from prefect.runner import Runner

    class WarmRunner(Runner):
        async def aadd_deployment(self, deployment: Any) -> Any:
            deployment_id = await super().aadd_deployment(deployment)
            flow = served_flow(deployment.entrypoint)
            if flow is not None:
                self._deployment_registry.register_flow(deployment_id, flow)
            return deployment_id

    runner = WarmRunner(pause_on_shutdown=True, query_seconds=query_seconds)
    for deployment in deployments:
        runner.add_deployment(deployment)
    _display_serve_start_message(*deployments)
    try:
        asyncio.run(runner.start())
    except (KeyboardInterrupt, TerminationSignal):
        _logger.info("stopping the served deployments")
