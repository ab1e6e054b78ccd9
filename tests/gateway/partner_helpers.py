"""What the partner API tests share: the gate running with uvicorn on 127.0.0.1 in a thread,
partners made through the service, a work order, and a callback receiver on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from gateway import server
from gateway.proxy import Upstream
from service import partners
from service.acting import Stamp
from service.engine import Engine
from tests.conftest import DESK, T0


def order(ref: str = "12328-20261123-0001", **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "ref": ref,
        "type": "complaint",
        "category": "freight_unpaid",
        "name": "王建国",
        "phone": "13812345678",
        "plate": "川B12345",
        "description": "货主拖欠运费3500元已两个月",
        "amount": 3500,
        "received_at": "2026-11-23T09:30:00+08:00",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def add_partner(
    engine: Engine, code: str, channel: str = "platform", url: str | None = None
) -> partners.Issued:
    return partners.add_partner(
        engine,
        Stamp(DESK, T0, T0),
        code=code,
        name=f"合作方{code}",
        channel=channel,
        callback_url=url,
    )


@contextmanager
def running_gate(engine: Engine) -> Iterator[str]:
    """The gate (and so /partner/v1) on a free port of 127.0.0.1; its base URL."""
    upstream = Upstream("http://127.0.0.1:9")  # no Prefect: the partner API never needs it
    running = server.start(
        engine, upstream, host="127.0.0.1", port=server.free_loopback_port(), timeout=20
    )
    try:
        yield running.url
    finally:
        running.stop()


@dataclass
class Receiver:
    """A partner's callback endpoint on 127.0.0.1: every request's headers and body kept;
    `fail(n)` says whether the n-th request (from 0) is answered 500."""

    url: str = ""
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    fail: Callable[[int], bool] = lambda n: False
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ids(self) -> list[str]:
        return [h["webhook-id"] for h, _ in self.received]

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(b) for _, b in self.received]


@contextmanager
def receiver(
    fail: Callable[[int], bool] = lambda n: False, delay: float = 0.0
) -> Iterator[Receiver]:
    got = Receiver(fail=fail, delay=delay)
    seen = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            import time

            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            if got.delay:
                time.sleep(got.delay)
            with got.lock:
                n = seen[0]
                seen[0] += 1
                failing = got.fail(n)
                if not failing:
                    got.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(500 if failing else 204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    got.url = f"http://127.0.0.1:{httpd.server_address[1]}/callbacks"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield got
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
