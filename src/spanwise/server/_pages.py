"""Server-rendered dashboard pages (Jinja2, autoescaped). Each page renders the same
view the JSON API returns, plus layout for its SVG."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from spanwise.server import _views as views
from spanwise.server._charts import cost_chart
from spanwise.server._filters import (
    TIME_PRESETS,
    FilterError,
    bucket_ns,
    clean_text,
    parse_time,
    trace_filter,
)
from spanwise.server._panels import lock_lanes, patch_ops
from spanwise.server._security import COOKIE_NAME, safe_next, session_cookie_value
from spanwise.server._waterfall import layout
from spanwise.store._dashboard_queries import known_models

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
_SPAN_ID = re.compile(r"^[0-9a-f]{16}$")
TRACE_FILTERS = (
    "since",
    "until",
    "status",
    "session",
    "model",
    "name",
    "min_cost",
    "min_duration_ms",
)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    state = request.app.state.spanwise
    html = state.templates.get_template(template).render(
        page=template.rsplit(".", 1)[0], token_required=state.config.token is not None, **context
    )
    return HTMLResponse(html, status_code=status_code)


@router.get("/", response_class=HTMLResponse)
def trace_list_page(request: Request) -> HTMLResponse:
    q = {k: request.query_params.get(k, "") for k in TRACE_FILTERS}
    offset_text = request.query_params.get("offset", "0")
    offset = int(offset_text) if offset_text.isdigit() and len(offset_text) < 9 else 0
    error = None
    with request.app.state.spanwise.pool.connection() as db:
        try:
            flt = trace_filter(**q)
            listing = views.trace_list(db, flt, PAGE_SIZE, offset)
        except FilterError as exc:
            error = str(exc)
            listing = {"items": [], "limit": PAGE_SIZE, "offset": 0, "next_offset": None}
        models = known_models(db)
    kept = {k: v for k, v in q.items() if v}

    def page_link(new_offset: int) -> str:
        return "/?" + urlencode({**kept, "offset": new_offset})

    return render(
        request,
        "traces.html",
        status_code=400 if error else 200,
        q=q,
        error=error,
        listing=listing,
        models=models,
        presets=TIME_PRESETS,
        next_link=page_link(listing["next_offset"]) if listing["next_offset"] else None,
        prev_link=page_link(max(offset - PAGE_SIZE, 0)) if offset else None,
        filtered=bool(kept),
    )


@router.get("/traces/{trace_id}", response_class=HTMLResponse)
def trace_page(request: Request, trace_id: str) -> HTMLResponse:
    selected = request.query_params.get("span", "").lower()
    if not _SPAN_ID.match(selected):
        selected = ""
    with request.app.state.spanwise.pool.connection() as db:
        detail = views.trace_detail(db, trace_id)
        trace = detail["trace"]
        span = views.span_detail(db, trace["trace_id"], selected) if selected else None
    chart = layout(detail["spans"], trace["start_ns"], trace["end_ns"], selected or None)
    return render(
        request,
        "trace.html",
        trace=trace,
        chart=chart,
        span=span,
        errors=detail["errors"],
        locks=lock_lanes(detail["lock_events"]),
        diffs=patch_ops(detail["state_diffs"]),
        spans=detail["spans"],
    )


@router.get("/cost", response_class=HTMLResponse)
def cost_page(request: Request) -> HTMLResponse:
    since = request.query_params.get("since", "30d")
    bucket = request.query_params.get("bucket", "day")
    try:
        since_ns, size = parse_time(since, "since"), bucket_ns(bucket)
    except FilterError as exc:
        return render(
            request,
            "cost.html",
            400,
            error=str(exc),
            since=since,
            bucket=bucket,
            report=None,
            chart=None,
            presets=TIME_PRESETS,
        )
    with request.app.state.spanwise.pool.connection() as db:
        report = views.cost_view(db, since_ns, size)
    chart = cost_chart(report["rows"], report["models"], size, since_ns, time.time_ns())
    return render(
        request,
        "cost.html",
        error=None,
        since=since,
        bucket=bucket,
        report=report,
        chart=chart,
        presets=TIME_PRESETS,
    )


@router.get("/latency", response_class=HTMLResponse)
def latency_page(request: Request) -> HTMLResponse:
    since = request.query_params.get("since", "24h")
    kind = clean_text(request.query_params.get("kind")) or None
    try:
        since_ns = parse_time(since, "since")
    except FilterError as exc:
        return render(
            request,
            "latency.html",
            400,
            error=str(exc),
            since=since,
            kind=kind,
            rows=[],
            presets=TIME_PRESETS,
        )
    with request.app.state.spanwise.pool.connection() as db:
        rows = views.latency_view(db, since_ns, kind)["rows"]
    return render(
        request, "latency.html", error=None, since=since, kind=kind, rows=rows, presets=TIME_PRESETS
    )


@router.get("/efficiency", response_class=HTMLResponse)
def efficiency_page(request: Request) -> HTMLResponse:
    with request.app.state.spanwise.pool.connection() as db:
        report = views.efficiency_view(db)
    return render(request, "efficiency.html", report=report)


@router.get("/health", response_class=HTMLResponse)
def health_page(request: Request) -> HTMLResponse:
    state = request.app.state.spanwise
    with state.pool.connection() as db:
        health = views.health_view(db, state.writer.stats(), state.config.store_url)
    return render(request, "health.html", health=health)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return render(
        request, "login.html", next=safe_next(request.query_params.get("next")), error=None
    )


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, token: str = Form(""), next: str = Form("/")) -> Response:
    import hmac

    expected = request.app.state.spanwise.config.token
    if expected is None:
        return RedirectResponse(safe_next(next), status_code=303)
    if not hmac.compare_digest(token.encode(), expected.encode()):
        return render(request, "login.html", 401, next=safe_next(next), error="wrong token")
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE_NAME, session_cookie_value(expected), httponly=True, samesite="strict", path="/"
    )
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


@router.get("/static/{name}")
def static_file(request: Request, name: str) -> Response:
    found = request.app.state.spanwise.static.get(name)
    if found is None:
        return Response("not found", status_code=404, media_type="text/plain")
    if request.headers.get("if-none-match") == f'"{found.etag}"':
        return Response(status_code=304)
    return Response(
        found.body,
        media_type=found.media_type,
        headers={"ETag": f'"{found.etag}"', "Cache-Control": "public, max-age=3600"},
    )
