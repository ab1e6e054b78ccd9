"""The partner API at `/partner/v1` (the 12328 system, freight platforms, the mini-program):
JSON, `Authorization: Bearer <key>`, no browser session; mounted on the gate's port.

`POST /grievances` (201 new, 200 the same order again, 409 a known ref or Idempotency-Key
with another order, 422 each bad field), `POST /grievances:batch` (up to 1,000, each on its
own), `GET /grievances/{ref}` (another partner's ref is 404), `GET /openapi.json`. An unknown,
expired or disabled key is 401; over the key's rate limit 429 with Retry-After. The work is
`service.partner_intake`'s; this module only speaks HTTP."""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.partner_openapi import PREFIX, document
from service import partner_intake, partners, security
from service.engine import Engine
from service.partners import PartnerView
from service.work_orders import OrderInvalid
from workflow.errors import Conflict, GrievanceError, NotFound

ENV_RATE = "GRIEVANCE_PARTNER_RATE"  # requests per second per key (default 50)
ENV_BURST = "GRIEVANCE_PARTNER_BURST"  # how many at once above the rate (default 100)
BODY_MAX = 8 * 1024 * 1024  # a batch of 1,000 orders fits with room
NO_STORE = {"Cache-Control": "no-store"}
WORKERS = 8  # database threads on PostgreSQL
REFUSAL_QUIET = timedelta(minutes=1)  # the same refused key is logged once a minute
T = TypeVar("T")


def _now() -> datetime:
    return datetime.now(UTC)


def _number(name: str, default: float) -> float:
    text = os.environ.get(name, "")
    try:
        value = float(text) if text else default
    except ValueError:
        value = default
    return value if value > 0 else default


@dataclass
class Bucket:
    tokens: float
    at: float


class RateLimit:
    """A token bucket per API key: `rate` requests a second, `burst` at once (one process)."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self.buckets: dict[str, Bucket] = {}

    def take(self, key: str) -> float:
        """0 if the request may go, else the seconds until it may."""
        now = self.clock()
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) > 10_000:
                self.buckets.clear()
            bucket = self.buckets[key] = Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate


def _error(status: int, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status, headers=NO_STORE)


def _unknown_key() -> JSONResponse:
    return _error(401, "unknown, expired or disabled API key 接口密钥无效")


class PartnerApi:
    """The partner API's state: the engine, the clock, the rate limit, and the threads its
    database work runs on: one on SQLite (it has one writer; a queue in arrival order keeps
    the latency even, where threads racing for the lock starve some), `WORKERS` otherwise."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = _now,
        limit: RateLimit | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.limit = limit or RateLimit(_number(ENV_RATE, 50), _number(ENV_BURST, 100))
        self.openapi = json.dumps(document(), ensure_ascii=False).encode()
        self.refused: dict[tuple[str | None, str], datetime] = {}
        self.pool = ThreadPoolExecutor(
            max_workers=1 if engine.db.is_sqlite else WORKERS, thread_name_prefix="partner-api"
        )

    async def _work(self, function: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.pool, function)

    def _authenticated(
        self, request: Request, key: str, then: Callable[[PartnerView], T]
    ) -> T | None:
        """`then(partner)` for the partner of this key (in the same worker), or None."""
        at = self.clock()
        partner = partners.authenticate(self.engine, key, at)
        if partner is None:
            self._refused(request.client.host if request.client else None, key, at)
            return None
        return then(partner)

    def _refused(self, remote: str | None, key: str, at: datetime) -> None:
        """An unknown, expired or disabled key, in the security log: once a minute per client
        and key (a partner's system retrying in a loop writes no row per request)."""
        mark = (remote, partners.key_hash(key)[:16])
        last = self.refused.get(mark)
        if last is not None and at - last < REFUSAL_QUIET:
            return
        if len(self.refused) > 10_000:
            self.refused.clear()
        self.refused[mark] = at
        with self.engine.db.transaction() as session:
            security.record(
                session,
                "refused",
                at,
                remote=remote,
                path=PREFIX,
                why="partner API: unknown, expired or disabled key",
                key_sha256=mark[1],
            )

    def _key(self, request: Request) -> str | Response:
        """The request's API key within its rate limit, or the refusal (401, 429)."""
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return _error(401, "Authorization: Bearer <API key> required 缺少接口密钥")
        wait = self.limit.take(partners.key_hash(key))
        if wait > 0:
            return JSONResponse(
                {"detail": "too many requests 请求过于频繁"},
                status_code=429,
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        return key

    async def _json(self, request: Request) -> Any:
        body = await request.body()
        if len(body) > BODY_MAX:
            raise OrderInvalid({"body": f"larger than {BODY_MAX} bytes"})
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise OrderInvalid({"body": "not JSON"}) from None

    async def push(self, request: Request) -> Response:
        key = self._key(request)
        if isinstance(key, Response):
            return key
        idem = request.headers.get("idempotency-key")
        try:
            order = await self._json(request)
            done = await self._work(
                lambda: self._authenticated(
                    request,
                    key,
                    lambda partner: partner_intake.submit(
                        self.engine, partner, order, self.clock(), idempotency_key=idem
                    ),
                )
            )
        except OrderInvalid as error:
            return _error(422, "invalid work order 工单字段有误", errors=error.fields)
        except Conflict as error:
            return _error(409, str(error))
        except GrievanceError as error:
            return _error(422, str(error))
        if done is None:
            return _unknown_key()
        return JSONResponse(done.as_dict(), status_code=201 if done.created else 200)

    async def push_batch(self, request: Request) -> Response:
        key = self._key(request)
        if isinstance(key, Response):
            return key
        try:
            body = await self._json(request)
            if not isinstance(body, dict) or not isinstance(body.get("orders"), list):
                raise OrderInvalid({"orders": "a JSON array of work orders"})
            results = await self._work(
                lambda: self._authenticated(
                    request,
                    key,
                    lambda partner: partner_intake.submit_batch(
                        self.engine, partner, body["orders"], self.clock()
                    ),
                )
            )
        except OrderInvalid as error:
            return _error(422, "invalid batch 批量请求有误", errors=error.fields)
        except GrievanceError as error:
            return _error(422, str(error))
        if results is None:
            return _unknown_key()
        return JSONResponse({"results": results})

    async def status(self, request: Request) -> Response:
        key = self._key(request)
        if isinstance(key, Response):
            return key
        ref = request.path_params["ref"]
        try:
            found = await self._work(
                lambda: self._authenticated(
                    request, key, lambda partner: partner_intake.status(self.engine, partner, ref)
                )
            )
        except NotFound as error:
            return _error(404, str(error))
        if found is None:
            return _unknown_key()
        return JSONResponse(found, headers=NO_STORE)

    async def openapi_json(self, request: Request) -> Response:
        return Response(self.openapi, media_type="application/json")

    async def not_found(self, request: Request) -> Response:
        return _error(404, "no such endpoint of the partner API")

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/openapi.json", self.openapi_json, methods=["GET"]),
                Route("/grievances:batch", self.push_batch, methods=["POST"]),
                Route("/grievances", self.push, methods=["POST"]),
                Route("/grievances/{ref:path}", self.status, methods=["GET"]),
                Route("/{rest:path}", self.not_found),
            ]
        )
