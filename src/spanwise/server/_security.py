"""Who may talk to the server, and how every reply is hardened.

- Binding: loopback by default; any other address needs ``SPANWISE_TOKEN``.
- Host header: checked against an allowlist on every request, so a page on another
  site cannot reach the dashboard through DNS rebinding.
- Token: when set, every route except the login form and static assets needs it, as
  ``Authorization: Bearer`` or (for page views) the session cookie the login form sets.
  Ingest accepts only the header, so a cookie can never be used to post data (CSRF).
- Replies carry a strict Content-Security-Policy and friends, and ``Server-Timing``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE_NAME = "spanwise_session"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})
PUBLIC_PATHS = ("/login", "/logout", "/static/")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


def is_loopback(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse a non-loopback bind without a token (ValueError with one line)."""
    if not is_loopback(host) and not token:
        raise ValueError(
            f"refusing to listen on {host or '0.0.0.0'} without a token: set SPANWISE_TOKEN "
            "(clients then send 'Authorization: Bearer <token>'), or bind 127.0.0.1"
        )


def allowed_hosts(
    bind_host: str, token: str | None, extra: Iterable[str] = ()
) -> frozenset[str] | None:
    """Host names the server answers to; None means any (a token guards a wildcard bind)."""
    names = {h.strip().lower() for h in extra if h.strip()}
    if "*" in names:
        return None
    bind = bind_host.strip().strip("[]").lower()
    if bind in WILDCARD_BINDS and token and not names:
        return None
    names |= LOOPBACK_NAMES
    if bind not in WILDCARD_BINDS:
        names.add(bind)
    return frozenset(names)


def host_name(header: str) -> str:
    """``example.com:7842`` → ``example.com``; ``[::1]:7842`` → ``::1``."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def session_cookie_value(token: str) -> str:
    """What the login cookie holds: derived from the token, never the token itself."""
    return hmac.new(token.encode(), b"spanwise-dashboard-session", hashlib.sha256).hexdigest()


def _cookie(headers: dict[bytes, bytes]) -> str | None:
    raw = headers.get(b"cookie", b"").decode("latin-1")
    for part in raw.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE_NAME:
            return value
    return None


class Guard:
    """ASGI middleware applying the rules above to every HTTP request."""

    def __init__(self, app: ASGIApp, *, token: str | None, hosts: frozenset[str] | None) -> None:
        self.app = app
        self.token = token
        self.hosts = hosts
        self._cookie = session_cookie_value(token) if token else None

    def authorized(self, method: str, path: str, headers: dict[bytes, bytes]) -> bool:
        token = self.token
        if token is None:
            return True
        auth = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, given = auth.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return True
        if method in ("GET", "HEAD") and not path.startswith("/v1/"):
            cookie = _cookie(headers)
            return cookie is not None and hmac.compare_digest(cookie, self._cookie or "")
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        path: str = scope["path"]
        method: str = scope["method"]
        if self.hosts is not None:
            host = host_name(headers.get(b"host", b"").decode("latin-1"))
            if host not in self.hosts:
                await _plain(send, 403, "this server does not answer to that Host header")
                return
        public = path.startswith(PUBLIC_PATHS)
        if not public and not self.authorized(method, path, headers):
            await self._deny(send, method, path, scope.get("query_string", b""), headers)
            return

        async def send_hardened(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = list(SECURITY_HEADERS)
                elapsed = (time.perf_counter() - started) * 1000
                extra.append((b"server-timing", f"app;dur={elapsed:.1f}".encode()))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_hardened)

    async def _deny(
        self, send: Send, method: str, path: str, query: bytes, headers: dict[bytes, bytes]
    ) -> None:
        if path.startswith("/v1/"):
            from spanwise.server._otlp_body import status_response

            content_type = headers.get(b"content-type", b"").decode("latin-1")
            response = status_response(401, "missing or wrong bearer token", content_type)
            await _send_response(
                send,
                response.status_code,
                bytes(response.body),
                response.headers.get("content-type", "application/json"),
                [(b"www-authenticate", b"Bearer")],
            )
            return
        accept = headers.get(b"accept", b"").decode("latin-1")
        if method == "GET" and "text/html" in accept and not path.startswith("/api/"):
            target = path + ("?" + query.decode("latin-1") if query else "")
            location = "/login?next=" + quote(target, safe="")
            await _send_response(send, 303, b"", "text/plain", [(b"location", location.encode())])
            return
        body = json.dumps({"detail": "missing or wrong bearer token"}).encode()
        await _send_response(
            send, 401, body, "application/json", [(b"www-authenticate", b"Bearer")]
        )


async def _plain(send: Send, status: int, text: str) -> None:
    await _send_response(send, status, text.encode(), "text/plain; charset=utf-8", [])


async def _send_response(
    send: Send, status: int, body: bytes, content_type: str, extra: list[tuple[bytes, bytes]]
) -> None:
    headers: list[Any] = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        *SECURITY_HEADERS,
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def safe_next(target: str | None) -> str:
    """A redirect target after login: a local path only (no scheme, host or ``//``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
