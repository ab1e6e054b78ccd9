"""What the gate reads off a request: the caller's address, a safe place to go after login,
and whether a request comes from the gate's own origin."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request

SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def remote_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def safe_next(target: str | None) -> str:
    """Where to go after login: a path on this site only (no `//host`, no scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null" and request.method in SAFE:
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")
