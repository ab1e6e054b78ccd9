"""The "批量导入 import" Prefect flow: one flow run for a file of 12328 work orders, a task per
batch (`service.importing`), a Markdown artifact with the outcome; its deployment `import`.
"""

# No `from __future__ import annotations`: Prefect builds the parameters' model from the
# annotations at runtime (as the action flows do), in the served run's process too.

from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic.json_schema import SkipJsonSchema

from service import stamps
from service.engine import Engine
from service.importing import (
    BATCH,
    DEFAULT_ACTOR,
    ImportResult,
    batches,
    import_ready,
    parallel_batches,
    path_in_import_dir,
    report_markdown,
)
from service.work_orders import Ready, read, validate
from workflow.actor import Actor
from workflow.errors import GrievanceError, PermissionDenied
from workflow.privacy import mask_text
from workflow.timeutil import local
from workflow.vocab import Role

# not in the run form: who imports is the signed-in dispatcher, set by the gate with its stamp
Importer = SkipJsonSchema[str]
Stamped = SkipJsonSchema[str | None]


def _flow_run_name() -> str:
    from prefect.runtime import flow_run

    return f"import {Path(str(flow_run.parameters.get('path', ''))).name}"


def _acting_as(actor: str, stamp: str | None) -> str:
    """Who imports. A run of the `import` deployment acts as the dispatcher its identity stamp
    names (the gate stamps it: `gateway.stamping`), and one without a stamp is refused; the
    flow called in-process (tests, a script on the server) acts as `actor`."""
    from prefect.runtime import flow_run

    from flows.action_runs import deployment_parameters

    parameters = deployment_parameters()
    if stamp is None:
        if parameters is not None:
            raise PermissionDenied(
                "a run of the import deployment needs the gate's identity stamp: start it from"
                " the UI behind the gate, or run `grievance import FILE` on the server"
            )
        Actor(actor, Role.DISPATCHER)  # fail early on a bad actor name
        return actor
    engine = Engine.open()
    try:
        who = stamps.check(
            engine,
            stamp,
            target=stamps.IMPORT_TARGET,
            at=datetime.now(UTC),
            run_id=str(flow_run.id or ""),
            parameters=parameters,
        )
    finally:
        engine.db.dispose()
    if who.role is not Role.DISPATCHER:
        raise PermissionDenied(
            f"a {who.role.value} does not import work orders (仅受理台可批量导入)"
        )
    return who.name


def _prefect() -> Any:
    """The Prefect flow, built on first use (Prefect is imported only where it is needed)."""
    from prefect import flow, get_run_logger, task
    from prefect.artifacts import create_markdown_artifact
    from prefect.cache_policies import NO_CACHE
    from prefect.states import Failed

    # a batch is idempotent (a work order already present is skipped): safe to run again
    @task(name="import-batch", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
    def import_batch(ready: list[Ready], actor_name: str, recorded_at: datetime) -> ImportResult:
        engine = Engine.open()
        try:
            result = import_ready(engine, ready, Actor(actor_name, Role.DISPATCHER), recorded_at)
        finally:
            engine.db.dispose()
        get_run_logger().info(
            "lines %d-%d: imported %d, already present %d, refused %d",
            ready[0].line,
            ready[-1].line,
            len(result.imported),
            len(result.skipped_existing),
            len(result.problems),
        )
        return result

    def import_work_orders(
        path: str,
        actor: Importer = DEFAULT_ACTOR,
        batch: int = BATCH,
        now: datetime | None = None,
        stamp: Stamped = None,
    ) -> Any:
        """批量导入 Import a day's 12328 work orders: one flow run, one task per batch."""
        recorded_at = now.astimezone(UTC) if now is not None else datetime.now(UTC)
        logger = get_run_logger()
        try:
            actor = _acting_as(actor, stamp)
            if stamp is not None:  # started from the UI: a file of the import folder only
                path = str(path_in_import_dir(path))
        except GrievanceError as refused:  # the one-line reason as the run's state, no traceback
            logger.warning("import refused: %s", refused)
            return Failed(message=str(refused))
        parsed = read(path)
        for warning in parsed.warnings:
            logger.warning("%s", warning)
        ready, problems = validate(parsed.rows, recorded_at)
        result = ImportResult(problems=parsed.problems + problems)
        chunks = list(batches(ready, batch))
        window = parallel_batches()
        pending: deque[Any] = deque()
        for chunk in chunks:  # at most `window` batches in flight, in file order
            if len(pending) >= window:
                result.merge(pending.popleft().result())
            pending.append(import_batch.submit(list(chunk), actor, recorded_at))
        while pending:
            result.merge(pending.popleft().result())
        result.problems.sort(key=lambda p: p.line)
        name = Path(path).name
        day = local(recorded_at).date().isoformat()
        create_markdown_artifact(
            markdown=report_markdown(name, result, parsed.warnings),
            key=f"import-{day}",
            description=f"批量导入 {name}",
        )
        logger.info(
            "%s: %d row(s): imported %d, already present %d, bad %d, in %d batch(es)",
            name,
            len(parsed.rows) + len(parsed.problems),
            len(result.imported),
            len(result.skipped_existing),
            len(result.problems),
            len(chunks),
        )
        return {
            "file": name,
            **result.summary(),
            "batches": len(chunks),
            "numbers": [number for _, number in result.imported],
            "problems": [{"line": p.line, "reason": mask_text(p.reason)} for p in result.problems],
        }

    # The served deployment's entrypoint is `flows/importer.py:import_work_orders` (the module's
    # `__getattr__` below builds the flow there too), not this function's local name.
    import_work_orders.__qualname__ = "import_work_orders"
    return flow(
        name="批量导入 import",
        flow_run_name=_flow_run_name,
        description="批量导入12328工单（CSV或JSON Lines）：逐行校验，按渠道编号去重，分批受理。",
    )(import_work_orders)


def import_deployment() -> Any:
    """The bulk import as a deployment (no schedule): Deployments → import → Run, with the
    path of a file on the machine that serves it. New grievances get their case runs from the
    watchdog's next ticks (in bounded batches), not one by one here."""
    return __getattr__("import_work_orders").to_deployment(
        name="import",
        tags=["grievance", "import"],
        description=(
            "批量导入12328工单：填写服务器上的文件路径（CSV或JSON Lines）。"
            " Import a day's 12328 work orders: the path of a CSV or JSON Lines file on the"
            " machine that serves the deployments."
        ),
    )


_FLOW: Any = None


def __getattr__(name: str) -> Any:
    """`importer.import_work_orders` builds the Prefect flow lazily on first access."""
    global _FLOW
    if name == "import_work_orders":
        if _FLOW is None:
            _FLOW = _prefect()
        return _FLOW
    raise AttributeError(name)
