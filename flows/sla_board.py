"""The SLA board (时限看板) published by every `sla-watchdog` run: one Markdown artifact for the
desk (key `sla-board`) and one per unit (`sla-board-<unit>`, `workflow.sla_board.board_key`),
each row linking to its grievance's open case run. The content is `service.sla_board`'s; this
module adds the links (one filter query per 100 numbers shown) and publishes a board only
when what it says changed (its description ends with a digest of its content without the
instant; at night and on rest days the business time left stands still), keeping the newest
`BOARD_VERSIONS` versions of each board. The gate lets a unit's staff read their own
unit's board by its key and no other (`gateway.narrowing`)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

from prefect.artifacts import create_markdown_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactCollectionFilter,
    ArtifactCollectionFilterKey,
    ArtifactFilter,
    ArtifactFilterKey,
)
from prefect.client.schemas.sorting import ArtifactSort

from service import sla_board
from service.engine import Engine
from workflow.sla_board import DESK, KEY_PREFIX, Board, Card
from workflow.timeutil import iso

BOARD_VERSIONS = 5  # versions kept per board (one is made every tick)
PAGE = 200
_LOG = logging.getLogger(__name__)


def case_run_links(numbers: Sequence[str]) -> dict[str, str]:
    """The UI address of each grievance's open case run (suspended, waiting for a form);
    grievances without one (a unit handling at its own pace) get no link."""
    from flows.case_sync import open_case_runs  # imports the case flow's forms

    if not numbers:
        return {}
    with get_client(sync_client=True) as client:
        runs = open_case_runs(client, numbers)
    return {number: f"/runs/flow-run/{found[0].id}" for number, found in runs.items() if found}


def description(party: str, board: Board, at: datetime) -> str:
    who = "受理台 the desk" if party == DESK else f"承办单位 unit {party}"
    red, yellow, green = (board.counts.get(c, 0) for c in (Card.RED, Card.YELLOW, Card.GREEN))
    return (
        f"时限看板 SLA board of {who} as of {iso(at)}: "
        f"红牌 red {red}, 黄牌 yellow {yellow}, 绿牌 green {green}"
    )


def publish_boards(
    engine: Engine,
    now: datetime,
    *,
    links: Mapping[str, str] | None = None,
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger] | None = None,
) -> dict[str, Board]:
    """Build the boards at `now` and publish each as a Markdown artifact; returns them by
    key. `links`: the case runs' addresses (None: asked of the Prefect server; if it does
    not answer, the boards go out without links and `logger` says why)."""
    built = sla_board.build(engine, now)
    if links is None:
        try:
            links = case_run_links(built.numbers())
        except Exception as error:  # noqa: BLE001 - a board without links beats no board
            (logger or _LOG).warning("SLA board without links to case runs: %s", error)
            links = {}
    if built.unreadable:
        (logger or _LOG).warning(
            "SLA board: timers of %d grievance(s) left out (policy or calendar unknown): %s",
            len(built.unreadable),
            ", ".join(built.unreadable[:10]),
        )
    rendered = sla_board.render(built, links=links)
    seen = latest_descriptions()
    published = []
    for key, (board, text) in rendered.items():
        digest = content_digest(text, now)
        if seen.get(key, "").endswith(f"#{digest}"):
            continue  # nothing moved (a night, a weekend): no new version
        create_markdown_artifact(
            markdown=text, key=key, description=f"{description(board.party, board, now)} #{digest}"
        )
        published.append(key)
    prune_versions(published)
    return {key: board for key, (board, _text) in rendered.items()}


def content_digest(text: str, now: datetime) -> str:
    """What a board says, without the instant it was made at."""
    return hashlib.sha256(text.replace(str(iso(now)), "").encode()).hexdigest()[:12]


def latest_descriptions() -> dict[str, str]:
    """The description of each board's latest version (it ends with its content digest)."""
    seen: dict[str, str] = {}
    with get_client(sync_client=True) as client:
        while True:  # the API gives at most 200 a page
            page = client.read_latest_artifacts(
                artifact_filter=ArtifactCollectionFilter(
                    key=ArtifactCollectionFilterKey(like_=f"{KEY_PREFIX}%")
                ),
                limit=PAGE,
                offset=len(seen),
            )
            seen.update({str(a.key): a.description or "" for a in page})
            if len(page) < PAGE:
                return seen


def prune_versions(keys: Sequence[str], keep: int = BOARD_VERSIONS) -> None:
    """Delete all but the newest `keep` versions of each board (every tick makes one)."""
    with get_client(sync_client=True) as client:
        for key in keys:
            old = client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                sort=ArtifactSort.CREATED_DESC,
                offset=keep,
                limit=PAGE,
            )
            for artifact in old:
                client.delete_artifact(artifact.id)


__all__ = [
    "BOARD_VERSIONS",
    "case_run_links",
    "content_digest",
    "description",
    "latest_descriptions",
    "prune_versions",
    "publish_boards",
]
