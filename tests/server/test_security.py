"""Who may reach the server: loopback by default, a token for anything else, Host-header
checks against DNS rebinding, escaping of every user string, no file reads by path."""

from __future__ import annotations

import re
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from starlette.routing import Route

from server.conftest import make_client
from server.helpers import XSS_KEY, XSS_NAME
from spanwise.cli import cli
from spanwise.server import ServerConfig, create_app

TOKEN = "s3cret-token-for-tests"
BEARER = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def locked(sample_store: str) -> Iterator[TestClient]:
    with make_client(sample_store, token=TOKEN) as c:
        yield c


def _walk(routes: list[Any]) -> Iterator[Route]:
    """Every route, including those of included routers."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _walk(inner.routes)
        elif isinstance(route, Route):
            yield route


def _public(path: str) -> bool:
    return path in ("/login", "/logout") or path.startswith("/static/")


def _concrete(path: str) -> str:
    return (
        path.replace("{trace_id}", "0" * 31 + "1")
        .replace("{span_id}", "0" * 15 + "1")
        .replace("{name}", "app.css")
    )


def test_every_route_needs_the_token(locked: TestClient) -> None:
    """Enumerate the router: no route but login/logout/static answers without the token."""
    routes = list(_walk(locked.app.routes))  # type: ignore[attr-defined]
    paths = {r.path for r in routes}
    assert {"/v1/traces", "/api/traces", "/", "/health", "/openapi.json"} <= paths
    checked = 0
    for route in routes:
        if _public(route.path):
            continue
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue
            r = locked.request(method, _concrete(route.path), follow_redirects=False)
            assert r.status_code in (401, 303), (method, route.path, r.status_code)
            checked += 1
    assert checked >= 10


def test_token_as_bearer_header(locked: TestClient) -> None:
    assert locked.get("/api/traces").status_code == 401
    assert locked.get("/api/traces", headers={"authorization": "Bearer wrong"}).status_code == 401
    r = locked.get("/api/traces", headers=BEARER)
    assert r.status_code == 200 and len(r.json()["items"]) == 3
    r = locked.post("/v1/traces", content=b"", headers={"content-type": "application/x-protobuf"})
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/x-protobuf"
    assert r.headers["www-authenticate"] == "Bearer"


def test_browser_login_sets_a_cookie_that_cannot_post(locked: TestClient) -> None:
    r = locked.get("/cost?since=7d", headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fcost%3Fsince%3D7d"
    r = locked.post("/login", data={"token": "nope", "next": "/cost"}, follow_redirects=False)
    assert r.status_code == 401 and "wrong token" in r.text
    r = locked.post(
        "/login", data={"token": TOKEN, "next": "/cost?since=7d"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/cost?since=7d"
    cookie = r.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert TOKEN not in cookie
    assert locked.get("/").status_code == 200
    assert locked.get("/api/health").status_code == 200
    # A cookie (what a cross-site form would carry) is not enough to write.
    r = locked.post("/v1/traces", content=b"", headers={"content-type": "application/json"})
    assert r.status_code == 401


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "/\\evil"])
def test_login_never_redirects_off_site(locked: TestClient, target: str) -> None:
    r = locked.post("/login", data={"token": TOKEN, "next": target}, follow_redirects=False)
    assert r.headers["location"] == "/"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:7842", "127.0.0.1.evil.example"])
def test_foreign_host_header_is_refused(client: TestClient, host: str) -> None:
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends its own Host."""
    for path in ("/", "/api/traces", "/v1/traces"):
        r = client.get(path, headers={"host": host})
        assert r.status_code == 403, (host, path)


@pytest.mark.parametrize("host", ["127.0.0.1:7842", "localhost:7842", "[::1]:7842", "localhost"])
def test_loopback_host_headers_are_served(client: TestClient, host: str) -> None:
    assert client.get("/api/traces", headers={"host": host}).status_code == 200


def test_allowed_hosts_extend_the_list(sample_store: str) -> None:
    with make_client(sample_store, allowed_hosts=("obs.internal",)) as c:
        assert c.get("/api/traces", headers={"host": "obs.internal:7842"}).status_code == 200
        assert c.get("/api/traces", headers={"host": "other.internal"}).status_code == 403


def test_non_loopback_bind_without_token_refuses_to_start(empty_store: str) -> None:
    out = StringIO()
    result_console = Console(file=out, width=100)
    from click.testing import CliRunner

    result = CliRunner().invoke(
        cli,
        ["serve", "--host", "0.0.0.0", "--store", empty_store],
        obj={"console": result_console},
        env={"SPANWISE_TOKEN": ""},
    )
    assert result.exit_code == 1
    assert "refusing to listen on 0.0.0.0 without a token" in result.output
    assert len(result.output.strip().splitlines()) == 1
    with pytest.raises(ValueError, match="SPANWISE_TOKEN"):
        create_app(ServerConfig(store_url=empty_store, host="192.168.1.10"))


def test_a_token_allows_a_wildcard_bind(empty_store: str) -> None:
    app = create_app(ServerConfig(store_url=empty_store, host="0.0.0.0", token=TOKEN))
    with TestClient(app, base_url="http://obs.example.com") as c:
        assert c.get("/api/traces").status_code == 401
        assert c.get("/api/traces", headers=BEARER).status_code == 200


def test_user_strings_are_escaped_everywhere(client: TestClient) -> None:
    listing = client.get("/").text
    assert XSS_NAME not in listing
    assert "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;" in listing
    trace_id = next(
        t["trace_id"] for t in client.get("/api/traces").json()["items"] if t["name"] == XSS_NAME
    )
    span_id = client.get(f"/api/traces/{trace_id}").json()["spans"][0]["span_id"]
    page = client.get(f"/traces/{trace_id}?span={span_id}").text
    assert XSS_NAME not in page and XSS_KEY not in page and "<b>bold</b>" not in page
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    # No inline script at all: the only script is the static file, and CSP forbids others.
    assert re.findall(r"<script[^>]*>", page) == [
        re.search(r'<script src="/static/app\.js\?v=[0-9a-f]+" defer>', page).group(0)  # type: ignore[union-attr]
    ]


def test_security_headers(client: TestClient) -> None:
    r = client.get("/")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["server-timing"].startswith("app;dur=")


@pytest.mark.parametrize(
    "path",
    [
        "/static/../../../../etc/passwd",
        "/static/..%2f..%2f..%2fetc%2fpasswd",
        "/static/%2e%2e/%2e%2e/etc/passwd",
        "/static/app.css;/../../etc/passwd",
        "/static/..%5c..%5cetc%5cpasswd",
        "/static/%252e%252e%252fetc%252fpasswd",
        "/static/templates/base.html",
        "/static/__init__.py",
        "/static/",
    ],
)
def test_no_route_reads_files_by_path(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert b"root:" not in r.content


def test_static_files_are_served_from_a_fixed_set(client: TestClient) -> None:
    r = client.get("/static/app.css")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/css")
    again = client.get("/static/app.css", headers={"if-none-match": r.headers["etag"]})
    assert again.status_code == 304
