"""Response shapes of the JSON API (they make the OpenAPI document)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class TraceRow(BaseModel):
    trace_id: str
    name: str | None
    session_id: str | None
    start_ns: int
    end_ns: int
    duration_ns: int
    status: str
    span_count: int
    error_count: int
    llm_call_count: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    unpriced_calls: int


class TraceSummary(TraceRow):
    models: list[str]


class TraceList(BaseModel):
    items: list[TraceSummary]
    limit: int
    offset: int
    next_offset: int | None


class WaterfallSpan(BaseModel):
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int
    status: str
    error_type: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    pricing_available: int | None
    model: str | None


class TraceDetail(BaseModel):
    trace: TraceRow
    spans: list[WaterfallSpan]
    errors: list[dict[str, Any]] | None
    lock_events: list[dict[str, Any]] | None
    state_diffs: list[dict[str, Any]] | None


class Message(BaseModel):
    role: str
    content: str


class LlmCallDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    provider: str
    request_model: str
    response_model: str | None
    operation: str
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    reasoning_tokens: int | None
    time_to_first_token_ms: float | None
    streamed: int
    finish_reasons: Any
    cost_usd: float | None
    pricing_available: int
    price_source: str | None
    price_version: str | None
    transcript: list[Message]


class SpanDetail(BaseModel):
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int
    duration_ns: int
    status: str
    error_type: str | None
    error_message: str | None
    attributes: dict[str, Any]
    events: list[Any]
    pid: int | None
    llm: LlmCallDetail | None


class CostRow(BaseModel):
    bucket: int
    model: str | None
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    unpriced_calls: int


class ModelCost(BaseModel):
    model: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    unpriced_calls: int


class CostReport(BaseModel):
    bucket_ns: int
    rows: list[CostRow]
    models: list[ModelCost]


class LatencyRow(BaseModel):
    name: str
    kind: str | None
    count: int
    total_ns: int
    p50_ns: int | None
    p95_ns: int | None
    p99_ns: int | None
    max_ns: int | None


class LatencyReport(BaseModel):
    rows: list[LatencyRow]


class EfficiencyReport(BaseModel):
    available: bool
    columns: list[str]
    runs: list[dict[str, Any]]


class Health(BaseModel):
    store: str
    dialect: str
    store_bytes: int | None
    counts: dict[str, int]
    ingest: dict[str, Any]
    programs: dict[str, int]
    exporters: dict[str, dict[str, int]] = {}


class Problem(BaseModel):
    detail: str
