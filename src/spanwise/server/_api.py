"""The JSON API behind the dashboard (documented at ``/openapi.json``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request

from spanwise.server import _models as m
from spanwise.server import _views as views
from spanwise.server._filters import (
    FilterError,
    bucket_ns,
    clean_text,
    parse_time,
    trace_filter,
)
from spanwise.store._database import Database

TRACE_ID = r"^[0-9a-fA-F]{1,32}$"
SPAN_ID = r"^[0-9a-fA-F]{16}$"
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": m.Problem, "description": "A filter value is not valid"},
    401: {"model": m.Problem, "description": "Missing or wrong bearer token"},
    503: {"model": m.Problem, "description": "The store cannot be read"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    404: {"model": m.Problem, "description": "No such trace or span"},
}

router = APIRouter(prefix="/api", tags=["api"])


def read_db(request: Request) -> Iterator[Database]:
    with request.app.state.spanwise.pool.connection() as db:
        yield db


DB = Annotated[Database, Depends(read_db)]
Text = Annotated[str | None, Query(max_length=500)]


def _bad(exc: FilterError) -> HTTPException:
    return HTTPException(400, str(exc))


@router.get("/traces", response_model=m.TraceList, responses=ERRORS)
def list_traces(
    db: DB,
    since: Annotated[str | None, Query(max_length=64, description="30m, 1h, 7d or a date")] = None,
    until: Annotated[str | None, Query(max_length=64)] = None,
    status: Literal["ok", "error"] | None = None,
    session: Text = None,
    model: Text = None,
    name: Text = None,
    min_cost: Annotated[float | None, Query(ge=0, le=1e12)] = None,
    min_duration_ms: Annotated[float | None, Query(ge=0, le=1e15)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Any:
    """Traces, newest first, filtered by time, status, session, model, name, cost, duration."""
    try:
        flt = trace_filter(
            since=since,
            until=until,
            status=status,
            session=session,
            model=model,
            name=name,
            min_cost=min_cost,
            min_duration_ms=min_duration_ms,
        )
    except FilterError as exc:
        raise _bad(exc) from None
    return views.trace_list(db, flt, limit, offset)


@router.get("/traces/{trace_id}", response_model=m.TraceDetail, responses=NOT_FOUND)
def get_trace(db: DB, trace_id: Annotated[str, Path(pattern=TRACE_ID)]) -> Any:
    """One trace (a unique id prefix is enough): its spans and linked records."""
    return views.trace_detail(db, trace_id.lower())


@router.get("/traces/{trace_id}/spans/{span_id}", response_model=m.SpanDetail, responses=NOT_FOUND)
def get_span(
    db: DB,
    trace_id: Annotated[str, Path(pattern=TRACE_ID)],
    span_id: Annotated[str, Path(pattern=SPAN_ID)],
) -> Any:
    """One span: attributes, events and its LLM call with tokens, cost and transcript."""
    from spanwise.store._queries import resolve_trace_id

    full_id = resolve_trace_id(db, trace_id.lower())
    span = views.span_detail(db, full_id, span_id.lower())
    if span is None:
        raise HTTPException(404, f"no span {span_id} in trace {full_id}")
    return span


@router.get("/cost", response_model=m.CostReport, responses=ERRORS)
def cost(
    db: DB,
    since: Annotated[str | None, Query(max_length=64)] = "30d",
    bucket: Literal["hour", "day"] = "day",
) -> Any:
    """LLM cost per time bucket (UTC) and model; unpriced calls are counted, not $0."""
    try:
        return views.cost_view(db, parse_time(since, "since"), bucket_ns(bucket))
    except FilterError as exc:
        raise _bad(exc) from None


@router.get("/latency", response_model=m.LatencyReport, responses=ERRORS)
def latency(
    db: DB,
    since: Annotated[str | None, Query(max_length=64)] = "24h",
    kind: Annotated[str | None, Query(max_length=32)] = None,
) -> Any:
    """p50/p95/p99 and max duration per span name."""
    try:
        return views.latency_view(db, parse_time(since, "since"), clean_text(kind))
    except FilterError as exc:
        raise _bad(exc) from None


@router.get("/efficiency", response_model=m.EfficiencyReport, responses=ERRORS)
def efficiency(db: DB) -> Any:
    """Token-efficiency records per run (empty when none were recorded)."""
    return views.efficiency_view(db)


@router.get("/health", response_model=m.Health, responses=ERRORS)
def health(request: Request, db: DB) -> Any:
    """Ingest queue, records dropped by reason, store size and counts."""
    state = request.app.state.spanwise
    return views.health_view(db, state.writer.stats(), state.config.store_url)


@router.get("/models", response_model=list[str], responses=ERRORS)
def models(db: DB) -> Any:
    """Model names seen in LLM calls."""
    from spanwise.store._dashboard_queries import known_models

    return known_models(db)
