"""The gate's search page (`/gate/find`): a grievance by number, channel reference, plate or
phone (exact full value), for signed-in staff; unit staff find their unit's only
(`service.finding`). The results are a table of masked data, each row linking to the
grievance's case run in the Prefect UI (or its latest run). The value is sent by POST, so a
phone number never sits in a URL, a browser history or an access log."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any, Protocol
from urllib.parse import parse_qs

import httpx
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from gateway.proxy import Upstream
from service import finding
from service.engine import Engine
from service.worklist import WORKLIST_TAG
from workflow.accounts import Identity
from workflow.errors import GrievanceError


class Gate(Protocol):
    """What the search needs of the gate (`gateway.app.Gate`)."""

    engine: Engine
    upstream: Upstream
    client: httpx.AsyncClient

    async def identity(self, request: Request) -> Identity | None: ...

    async def refuse(self, request: Request, who: str | None, why: str) -> None: ...


NO_STORE = {"Cache-Control": "no-store"}
FORM_MAX = 4 * 1024
KEYS = {
    "number": "工单编号 Number",
    "ref": "渠道编号 Channel reference",
    "plate": "车牌 Plate",
    "phone": "电话 Phone",
}
COLUMNS = {
    "number": "工单编号 Number",
    "state": "状态 State",
    "channel": "渠道 Channel",
    "category": "分类 Category",
    "complainant": "诉求人 Driver",
    "lead_unit": "主办单位 Lead unit",
    "accepted_at": "受理时间 Accepted",
}

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>查找工单 Find a grievance</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif;
  margin: 2rem auto; max-width: 64rem; padding: 0 1rem; }}
form {{ display: flex; gap: .6rem; align-items: end; flex-wrap: wrap; }}
label {{ display: block; margin-bottom: .3rem; }} label span {{ color: #777; font-size: .85rem; }}
input, select {{ padding: .5rem; font-size: 1rem; }} button {{ padding: .55rem 1.2rem; font-size: 1rem; }}
table {{ border-collapse: collapse; margin-top: 1.2rem; width: 100%; }}
th, td {{ border: 1px solid #ddd; padding: .4rem .6rem; text-align: left; }}
th {{ background: #f3f4f6; }}
.error {{ color: #b91c1c; background: #fef2f2; padding: .5rem; border-radius: 4px; }}
.note {{ color: #555; font-size: .9rem; }}
</style></head>
<body><h1>查找工单 <small>Find a grievance</small></h1>
<p class="note"><a href="/runs">返回流程运行 Back to the runs</a> ·
<a href="/gate/worklist">我的待办 My worklist</a> ·
<a href="/gate/board">时限看板 SLA board</a></p>
<p class="note">按完整的工单编号、渠道编号、车牌或电话查找；结果中的个人信息已脱敏。
Exact full value; personal data in the results is masked.</p>
<form method="post" action="/gate/find">
<div><label for="key">查找方式 <span>Find by</span></label>
<select id="key" name="key">{options}</select></div>
<div><label for="value">查找内容 <span>Value</span></label>
<input id="value" name="value" required maxlength="64" autocomplete="off"></div>
<button type="submit">查找 Find</button>
</form>
{result}
</body></html>
"""


def find_page(
    *,
    key: str = "number",
    rows: Sequence[dict[str, str]] | None = None,
    links: dict[str, str] | None = None,
    error: str | None = None,
    note: str | None = None,
) -> str:
    """The search form, and after a search its results (or why there are none). The value
    searched for is not echoed back (it may be a phone number)."""
    options = "".join(
        f'<option value="{k}"{" selected" if k == key else ""}>{escape(label)}</option>'
        for k, label in KEYS.items()
    )
    if error is not None:
        result = f'<p class="error">{escape(error)}</p>'
    elif rows is None:
        result = ""
    elif not rows:
        result = "<p>未找到 No grievance found.</p>"
    else:
        head = "".join(f"<th>{escape(title)}</th>" for title in COLUMNS.values())
        body = []
        for row in rows:
            cells = []
            for column in COLUMNS:
                text = escape(row[column])
                link = (links or {}).get(row["number"]) if column == "number" else None
                cells.append(
                    f'<td><a href="{escape(link)}">{text}</a></td>' if link else f"<td>{text}</td>"
                )
            body.append("<tr>" + "".join(cells) + "</tr>")
        found = f"<p>找到 {len(rows)} 件 Found {len(rows)}.</p>"
        result = (
            found + f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )
    if note:
        result += f'<p class="note">{escape(note)}</p>'
    return _PAGE.format(options=options, result=result)


async def _runs(
    client: httpx.AsyncClient, upstream: Upstream, tags: dict[str, list[str]]
) -> list[dict[str, Any]]:
    query = {"flow_runs": {"tags": tags}, "sort": "EXPECTED_START_TIME_DESC", "limit": 200}
    answer = await client.post(
        upstream.url + "/api/flow_runs/filter", json=query, headers=upstream.headers()
    )
    answer.raise_for_status()
    runs: list[dict[str, Any]] = answer.json()
    runs.sort(key=lambda run: str(run.get("created") or ""), reverse=True)
    return runs


def _first_of(runs: list[dict[str, Any]], numbers: Sequence[str]) -> dict[str, str]:
    links: dict[str, str] = {}
    for number in numbers:
        tag = f"grievance:{number}"
        mine = [run for run in runs if tag in (run.get("tags") or [])]
        if mine:
            links[number] = f"/runs/flow-run/{mine[0]['id']}"
    return links


async def run_links(
    client: httpx.AsyncClient, upstream: Upstream, numbers: Sequence[str]
) -> dict[str, str]:
    """For each grievance, the UI page of its case run (the worklist's, tagged `worklist`),
    else of its most recent run; grievances without a run get no link. Two questions to the
    server: the case runs of all, then the runs of those without one."""
    if not numbers:
        return {}
    wanted = [f"grievance:{n}" for n in numbers]
    case_runs = await _runs(client, upstream, {"all_": [WORKLIST_TAG], "any_": wanted})
    links = _first_of(case_runs, numbers)
    rest = [n for n in numbers if n not in links]
    if rest:
        others = await _runs(client, upstream, {"any_": [f"grievance:{n}" for n in rest]})
        links |= _first_of(others, rest)
    return links


async def find_form(gate: Gate, request: Request) -> Response:
    if await gate.identity(request) is None:
        return RedirectResponse("/login?next=/gate/find", status_code=303)
    key = request.query_params.get("key", "number")
    return HTMLResponse(find_page(key=key if key in KEYS else "number"), headers=NO_STORE)


async def find(gate: Gate, request: Request, same_origin: bool) -> Response:
    """The grievances of one exact value, as the signed-in person may see them."""
    identity = await gate.identity(request)
    if identity is None:
        return RedirectResponse("/login?next=/gate/find", status_code=303)
    body = await request.body()
    form = {k: v[0] for k, v in parse_qs(body[:FORM_MAX].decode("utf-8", "replace")).items()}
    key, value = form.get("key", ""), form.get("value", "")
    shown_key = key if key in KEYS else "number"
    actor = identity.actor
    if not same_origin or actor is None:
        why_not = "cross-site request" if actor is not None else "this account does not act"
        await gate.refuse(request, identity.name, why_not)
        return HTMLResponse(find_page(key=shown_key, error=why_not), 403, NO_STORE)
    try:
        cases = await run_in_threadpool(finding.find_cases, gate.engine, actor, key, value)
    except GrievanceError as error:
        return HTMLResponse(find_page(key=shown_key, error=str(error)), 400, NO_STORE)
    rows = [finding.masked_row(case) for case in cases]
    note = None
    try:
        links = await run_links(gate.client, gate.upstream, [row["number"] for row in rows])
    except (httpx.HTTPError, ValueError) as error:
        links = {}
        note = (
            f"流程运行暂不可查，未附链接 Runs could not be read, no links: {type(error).__name__}"
        )
    return HTMLResponse(
        find_page(key=shown_key, rows=rows, links=links, note=note), headers=NO_STORE
    )
