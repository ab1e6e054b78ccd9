"""Personal data never reaches a log: a filter that masks phone, ID and plate numbers on the
loggers that may carry a form's input (Prefect's flow, engine and run loggers and our own);
and a refused action's run log holds its one-line reason, not the engine's traceback.
Installed on import by every module that runs flows (`flows.actions`)."""

import logging

from prefect.exceptions import FailedRun

from workflow.privacy import mask_text


class MaskPersonalData(logging.Filter):
    """Masks phone, ID and plate numbers in a log record before any handler sees it.

    Prefect logs a form it refuses with its raw input (`prefect.flows`: "Parameter
    validation failed ... Parameters: {...}") and a run's errors on `prefect.flow_runs`;
    those lines go to the console and to the server's run logs, readable by anyone in the UI.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is left to logging itself
            return True
        masked = mask_text(text)
        if masked != text:
            record.msg, record.args = masked, None
        return True


class QuietRefusal(logging.Filter):
    """Drops the engine's "Engine execution exited with unexpected exception" traceback when
    the exception is only the Failed state a flow returned (`FailedRun`: a refused action,
    `flows.action_runs.run_action`), which Prefect's engine re-raises to its caller. The run
    already ends Failed with the one-line reason as its state message, logged at WARNING;
    any other exception keeps its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, FailedRun)


MASKED_LOGGERS = (
    "prefect.flows",
    "prefect.engine",
    "prefect.flow_runs",
    "prefect.task_runs",
    "grievance",
)


# where the engine logs a run's end: the run's own logger (`prefect.flow_engine.run_flow`'s
# error logger), and the engine's for a run started by `python -m prefect.engine`
QUIET_LOGGERS = ("prefect.flow_runs", "prefect.engine")


def mask_logs() -> None:
    """Put the masking filter on the loggers that may carry a form's input, and the filter
    that keeps a refusal's traceback out of a run's logs (idempotent)."""
    for name in MASKED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskPersonalData) for f in logger.filters):
            logger.addFilter(MaskPersonalData())
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, QuietRefusal) for f in logger.filters):
            logger.addFilter(QuietRefusal())
