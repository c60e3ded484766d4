"""Turn ended spans (and their LLM-call payloads) into rows of spans, llm_calls and the
per-trace totals that make lists fast."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from spanwise._speedups import CSPAN
from spanwise.store import _json
from spanwise.store._blobs import BlobBatch
from spanwise.store._json import cached_attributes_json, dumps

attrs_json = cached_attributes_json
_ADD_PLAIN = None if CSPAN is None else CSPAN.add_plain_spans

SPAN_COLUMNS = (
    "trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, duration_ns, status, "
    "error_type, error_message, attributes, events, pid"
)
LLM_COLUMNS = (
    "trace_id, span_id, start_ns, duration_ns, provider, request_model, response_model, "
    "operation, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, "
    "reasoning_tokens, time_to_first_token_ms, streamed, finish_reasons, cost_usd, "
    "pricing_available, price_source, price_version, status, prompt_hash, response_hash, "
    "system_hash"
)
TRACE_COLUMNS = (
    "trace_id, name, session_id, start_ns, end_ns, status, span_count, error_count, "
    "llm_call_count, input_tokens, output_tokens, cost_usd, unpriced_calls"
)
# Totals add up across batches and processes; the root span's name wins.
TRACE_UPSERT = f"""INSERT INTO traces ({TRACE_COLUMNS}, has_root) VALUES ({{ph}})
ON CONFLICT (trace_id) DO UPDATE SET
  name = CASE WHEN traces.has_root = 1 THEN traces.name
              WHEN excluded.has_root = 1 OR excluded.start_ns < traces.start_ns THEN excluded.name
              ELSE traces.name END,
  has_root = CASE WHEN excluded.has_root = 1 THEN 1 ELSE traces.has_root END,
  session_id = COALESCE(traces.session_id, excluded.session_id),
  start_ns = CASE WHEN excluded.start_ns < traces.start_ns
                  THEN excluded.start_ns ELSE traces.start_ns END,
  end_ns = CASE WHEN excluded.end_ns > traces.end_ns
                THEN excluded.end_ns ELSE traces.end_ns END,
  status = CASE WHEN traces.error_count + excluded.error_count > 0 THEN 'error' ELSE 'ok' END,
  span_count = traces.span_count + excluded.span_count,
  error_count = traces.error_count + excluded.error_count,
  llm_call_count = traces.llm_call_count + excluded.llm_call_count,
  input_tokens = traces.input_tokens + excluded.input_tokens,
  output_tokens = traces.output_tokens + excluded.output_tokens,
  cost_usd = traces.cost_usd + excluded.cost_usd,
  unpriced_calls = traces.unpriced_calls + excluded.unpriced_calls"""


def _events_json(events: list[tuple[str, int, dict[str, Any]]] | None) -> str | None:
    if not events:
        return None
    return dumps([{"name": n, "time_ns": t, "attributes": a} for n, t, a in events])


class SpanRows:
    """Rows for one batch of spans."""

    def __init__(self, session_id: str | None, pid: int) -> None:
        self.session_id = session_id
        self.pid = pid
        self.spans: list[tuple[Any, ...]] = []
        self.llm: list[tuple[Any, ...]] = []
        self.traces: dict[str, list[Any]] = {}
        self.blobs = BlobBatch()

    def add_all(self, spans: Sequence[Any]) -> None:
        add_plain = _ADD_PLAIN
        if add_plain is None:
            self._add(spans)
            return
        # Plain spans in C (the same steps as ``_add``), the others here, in their order.
        spans = spans if isinstance(spans, list) else list(spans)
        i, n = 0, len(spans)
        while i < n:
            i = add_plain(spans, i, self.traces, self.spans, self.pid, _json._CACHE, attrs_json)
            if i < n:
                self._add((spans[i],))
                i += 1

    def _add(self, spans: Sequence[Any]) -> None:
        rows = self.spans
        append = rows.append
        pid = self.pid
        traces = self.traces
        attrs_json = cached_attributes_json
        for s in spans:
            tid = s.trace_id
            span_hex = f"{s.span_id or 1:016x}"
            parent = s.parent_id
            start, end = s.start_ns, s.end_ns
            x = s._x
            if x is None:
                status, error_type, error_message, events = "ok", None, None, None
            else:
                status, error_type, error_message = x.status, x.error_type, x.error_message
                events = _events_json(x.events)
            t = traces.get(tid)
            if t is None:
                # name, start, end, span_count, error_count, llm, in, out, cost, unpriced,
                # has_root, trace hex
                trace_hex = f"{tid or 1:032x}"
                t = traces[tid] = [s.name, start, end, 0, 0, 0, 0, 0, 0.0, 0, 0, trace_hex]
                if not parent:
                    t[10] = 1
            else:
                trace_hex = t[11]
                if not parent and not t[10]:
                    t[0], t[10] = s.name, 1
                elif not t[10] and start < t[1]:
                    t[0] = s.name
                if start < t[1]:
                    t[1] = start
                if end > t[2]:
                    t[2] = end
            t[3] += 1
            append(
                (
                    trace_hex,
                    span_hex,
                    f"{parent:016x}" if parent else None,
                    s.name,
                    s.kind,
                    start,
                    end,
                    end - start,
                    status,
                    error_type,
                    error_message,
                    attrs_json(s.attributes),
                    events,
                    pid,
                )
            )
            if x is not None:
                if status == "error":
                    t[4] += 1
                if x.llm is not None:
                    self._add_llm(trace_hex, span_hex, s, x.llm, t)

    def _add_llm(self, trace_hex: str, span_hex: str, s: Any, call: Any, t: list[Any]) -> None:
        t[5] += 1
        t[6] += call.input_tokens or 0
        t[7] += call.output_tokens or 0
        if call.cost_usd is None:
            t[9] += 1
        else:
            t[8] += call.cost_usd
        blobs = self.blobs
        self.llm.append(
            (
                trace_hex,
                span_hex,
                s.start_ns,
                s.end_ns - s.start_ns,
                call.provider,
                call.request_model,
                call.response_model,
                call.operation,
                call.input_tokens,
                call.output_tokens,
                call.cache_read_tokens,
                call.cache_write_tokens,
                call.reasoning_tokens,
                call.time_to_first_token_ms,
                1 if call.streamed else 0,
                json.dumps(call.finish_reasons) if call.finish_reasons else None,
                call.cost_usd,
                1 if call.pricing_available else 0,
                call.price_source,
                call.price_version,
                s.status,
                blobs.add(call.prompt),
                blobs.add(call.response),
                blobs.add(call.system),
            )
        )

    @staticmethod
    def span_insert_sql(placeholder: str) -> str:
        return f"INSERT INTO spans ({SPAN_COLUMNS}) VALUES ({', '.join([placeholder] * 14)})"

    def write(self, cur: Any, placeholder: str = "?") -> None:
        p = placeholder
        if self.spans:
            cur.executemany(self.span_insert_sql(p), self.spans)
        if self.llm:
            cur.executemany(
                f"INSERT INTO llm_calls ({LLM_COLUMNS}) VALUES ({', '.join([p] * 24)})", self.llm
            )
        self.blobs.write(cur, p)
        if self.traces:
            sql = TRACE_UPSERT.replace("{ph}", ", ".join([p] * 14))
            session = self.session_id
            cur.executemany(
                sql,
                [
                    (
                        t[11],
                        t[0],
                        session,
                        t[1],
                        t[2],
                        "error" if t[4] else "ok",
                        t[3],
                        t[4],
                        t[5],
                        t[6],
                        t[7],
                        t[8],
                        t[9],
                        t[10],
                    )
                    # Sorted: concurrent writers lock rows in one order (no deadlock).
                    for _, t in sorted(self.traces.items())
                ],
            )
