"""The gate's evidence pages: `/gate/attachments?number=N` lists a grievance's attachments with
an upload form (multipart, acting staff signed in, same origin, the size limit checked from
Content-Length before anything is read and again while reading), `/gate/attachment` downloads
one file for staff who may see the grievance, each download in the security log
(`service.attachments`). Names and notes are shown masked."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from service import attachments
from service.acting import Stamp
from service.engine import Engine
from workflow.accounts import Identity
from workflow.attachments import MEDIA_TYPES, Attachment, AttachmentRules, size_label
from workflow.errors import GrievanceError, NotFound
from workflow.privacy import mask_text
from workflow.timeutil import iso

NO_STORE = {"Cache-Control": "no-store"}
FORM_OVERHEAD = 64 * 1024  # the multipart envelope, the number and the note around the file


class Gate(Protocol):
    """What the evidence pages need of the gate (`gateway.app.Gate`)."""

    engine: Engine

    def clock(self) -> datetime: ...

    async def identity(self, request: Request) -> Identity | None: ...

    async def refuse(self, request: Request, who: str | None, why: str) -> None: ...


_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>证据附件 Evidence</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif;
  margin: 2rem auto; max-width: 64rem; padding: 0 1rem; }}
form {{ display: flex; gap: .6rem; align-items: end; flex-wrap: wrap; margin: 1rem 0; }}
label {{ display: block; margin-bottom: .3rem; }} label span {{ color: #777; font-size: .85rem; }}
input {{ padding: .5rem; font-size: 1rem; }} button {{ padding: .55rem 1.2rem; font-size: 1rem; }}
table {{ border-collapse: collapse; margin-top: 1.2rem; width: 100%; }}
th, td {{ border: 1px solid #ddd; padding: .4rem .6rem; text-align: left; }}
th {{ background: #f3f4f6; }} code {{ font-size: .9rem; }}
.error {{ color: #b91c1c; background: #fef2f2; padding: .5rem; border-radius: 4px; }}
.done {{ color: #166534; background: #f0fdf4; padding: .5rem; border-radius: 4px; }}
.note {{ color: #555; font-size: .9rem; }}
</style></head>
<body><h1>证据附件 <small>Evidence</small></h1>
<p class="note"><a href="/runs">返回流程运行 Back to the runs</a> ·
<a href="/gate/find">查找工单 Find a grievance</a> ·
<a href="/gate/worklist">我的待办 My worklist</a> ·
<a href="/gate/board">时限看板 SLA board</a></p>
<form method="get" action="/gate/attachments">
<div><label for="n">工单编号 <span>Grievance number</span></label>
<input id="n" name="number" value="{number}" required maxlength="32" autocomplete="off"></div>
<button type="submit">查看 Show</button>
</form>
{message}
{listing}
{upload}
</body></html>
"""


def _listing(number: str, items: Sequence[Attachment]) -> str:
    if not items:
        return "<p>尚无附件 No evidence attached yet.</p>"
    rows = []
    for item in items:
        query = urlencode({"number": number, "sha256": item.sha256})
        name = escape(mask_text(item.name))
        note = f"<br>{escape(mask_text(item.note))}" if item.note else ""
        rows.append(
            f'<tr><td><a href="/gate/attachment?{query}">{name}</a>{note}</td>'
            f"<td>{escape(item.kind)}</td><td>{escape(item.size_text)}</td>"
            f"<td><code>{escape(item.short)}</code></td><td>{escape(iso(item.at) or '')}</td>"
            f"<td>{escape(item.actor.name)}（{escape(item.actor.role.zh)}）</td></tr>"
        )
    head = "".join(
        f"<th>{t}</th>"
        for t in ("文件 File", "类型 Type", "大小 Size", "SHA-256", "时间 When", "上传人 By")
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _upload(number: str, rules: AttachmentRules) -> str:
    kinds = "、".join(MEDIA_TYPES[t] for t in sorted(rules.types))
    accept = ",".join(sorted(rules.types))
    return (
        '<form method="post" action="/gate/attach" enctype="multipart/form-data">'
        f'<input type="hidden" name="number" value="{escape(number)}">'
        '<div><label for="file">文件 <span>File</span></label>'
        f'<input id="file" type="file" name="file" required accept="{escape(accept)}"></div>'
        '<div><label for="note">说明 <span>Note</span></label>'
        '<input id="note" name="note" maxlength="200" autocomplete="off"></div>'
        '<button type="submit">上传 Attach</button></form>'
        f'<p class="note">{escape(kinds)}，不超过 at most {escape(size_label(rules.max_bytes))}；'
        "类型按文件内容判断 the type is told from the content.</p>"
    )


def page(
    *,
    number: str = "",
    items: Sequence[Attachment] | None = None,
    rules: AttachmentRules | None = None,
    error: str | None = None,
    done: str | None = None,
) -> str:
    message = ""
    if error is not None:
        message = f'<p class="error">{escape(error)}</p>'
    elif done is not None:
        message = f'<p class="done">{escape(done)}</p>'
    listing = _listing(number, items) if items is not None else ""
    upload = _upload(number, rules) if items is not None and rules is not None else ""
    return _PAGE.format(number=escape(number), message=message, listing=listing, upload=upload)


def _login(number: str) -> RedirectResponse:
    target = "/gate/attachments" + (f"?number={quote(number)}" if number else "")
    return RedirectResponse("/login?next=" + quote(target, safe=""), status_code=303)


async def _signed_in(gate: Gate, request: Request, number: str) -> Identity | Response:
    identity = await gate.identity(request)
    if identity is None:
        return _login(number)
    if identity.actor is None:
        await gate.refuse(request, identity.name, "this account does not act")
        return HTMLResponse(page(number=number, error="this account does not act"), 403, NO_STORE)
    return identity


async def show(gate: Gate, request: Request) -> Response:
    """GET: the attachments of one grievance and the upload form."""
    number = request.query_params.get("number", "").strip()[:32]
    who = await _signed_in(gate, request, number)
    if isinstance(who, Response):
        return who
    if not number:
        return HTMLResponse(page(), headers=NO_STORE)
    return await _listed(gate, who, number)


async def _listed(
    gate: Gate, who: Identity, number: str, *, done: str | None = None, status: int = 200
) -> Response:
    actor = who.actor
    if actor is None:  # checked by `_signed_in`
        raise TypeError("an acting identity was expected")
    try:
        config = attachments.AttachmentConfig.from_env(gate.engine)
        items = await run_in_threadpool(attachments.list_attachments, gate.engine, number, actor)
    except GrievanceError as error:
        return HTMLResponse(page(number=number, error=str(error)), 403, NO_STORE)
    body = page(number=number, items=items, rules=config.rules, done=done)
    return HTMLResponse(body, status, NO_STORE)


async def attach(gate: Gate, request: Request, same_origin: bool) -> Response:
    """POST (multipart): one file attached to one grievance, as the signed-in person."""
    who = await _signed_in(gate, request, "")
    if isinstance(who, Response):
        return who
    actor = who.actor
    if actor is None:  # checked by `_signed_in`
        raise TypeError("an acting identity was expected")
    if not same_origin:
        await gate.refuse(request, who.name, "cross-site request")
        return HTMLResponse(page(error="cross-site request"), 403, NO_STORE)
    try:
        config = attachments.AttachmentConfig.from_env(gate.engine)
    except GrievanceError as error:
        return HTMLResponse(page(error=str(error)), 500, NO_STORE)
    length = request.headers.get("content-length", "")
    if not length.isdigit():
        return HTMLResponse(page(error="the upload has no length 缺少长度"), 411, NO_STORE)
    if int(length) > config.rules.max_bytes + FORM_OVERHEAD:
        why = f"the file is larger than the limit of {size_label(config.rules.max_bytes)}"
        return HTMLResponse(page(error=why), 413, NO_STORE)
    async with request.form(max_files=1, max_fields=4) as form:
        number = str(form.get("number") or "").strip()[:32]
        upload, note = form.get("file"), str(form.get("note") or "").strip() or None
        if not isinstance(upload, UploadFile) or not upload.filename:
            return HTMLResponse(
                page(number=number, error="choose a file 请选择文件"), 400, NO_STORE
            )
        now = gate.clock()

        def run() -> Attachment:
            return attachments.attach(
                gate.engine,
                number,
                Stamp(actor, now, now),
                data=upload.file,
                name=upload.filename or "",
                note=note,
                config=config,
            )

        try:
            item = await run_in_threadpool(run)
        except GrievanceError as error:
            return HTMLResponse(page(number=number, error=str(error)), 400, NO_STORE)
    done = f"已上传 Attached: {mask_text(item.name)} ({item.kind}, {item.size_text}, {item.short})"
    return await _listed(gate, who, number, done=done)


async def download(gate: Gate, request: Request) -> Response:
    """GET: one attachment's file, for someone who may see the grievance (security log)."""
    number = request.query_params.get("number", "").strip()[:32]
    sha256 = request.query_params.get("sha256", "").strip()[:64]
    who = await _signed_in(gate, request, number)
    if isinstance(who, Response):
        return who
    actor = who.actor
    if actor is None:
        raise TypeError("an acting identity was expected")
    now = gate.clock()
    remote = request.client.host if request.client else None

    def read() -> tuple[Attachment, Path]:
        stamp = Stamp(actor, now, now)
        return attachments.read_attachment(gate.engine, number, sha256, stamp, remote=remote)

    try:
        item, path = await run_in_threadpool(read)
    except NotFound as error:
        return HTMLResponse(page(number=number, error=str(error)), 404, NO_STORE)
    except GrievanceError as error:
        return HTMLResponse(page(number=number, error=str(error)), 403, NO_STORE)
    return FileResponse(
        path,
        media_type=item.media_type,
        filename=mask_text(item.name),  # a name may hold a phone number: masked as shown
        headers={**NO_STORE, "X-Content-Type-Options": "nosniff"},
    )
