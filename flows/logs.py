"""Personal data never reaches a log: a filter that masks phone, ID and plate numbers on the
loggers that may carry a form's input (Prefect's flow, engine and run loggers and our own).
Installed on import by every module that runs flows (`flows.actions`)."""

import logging

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


MASKED_LOGGERS = (
    "prefect.flows",
    "prefect.engine",
    "prefect.flow_runs",
    "prefect.task_runs",
    "grievance",
)


def mask_logs() -> None:
    """Put the masking filter on the loggers that may carry a form's input (idempotent)."""
    for name in MASKED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskPersonalData) for f in logger.filters):
            logger.addFilter(MaskPersonalData())
