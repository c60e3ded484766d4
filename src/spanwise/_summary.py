"""In-memory run summary: every span and every LLM call accumulates; nothing overwrites.

Works with no store (metrics mode) and on the writer thread in trace mode.
"""

from __future__ import annotations

import threading
from typing import Any

from spanwise._llm_record import LlmCall
from spanwise._pricing import Pricer

_TOKEN_KINDS = ("input", "output", "cache_read", "cache_write", "reasoning")


class Aggregator:
    """Consumes ended spans; ``summary()`` prices pending LLM calls and reports totals."""

    def __init__(self, pricer: Pricer) -> None:
        self.pricer = pricer
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.span_count = 0
            self.error_count = 0
            self.first_start_ns: int | None = None
            self.last_end_ns: int | None = None
            self.by_name: dict[str, list[int]] = {}
            self.pending: list[LlmCall] = []
            self.llm_calls = 0
            self.llm_calls_without_usage = 0
            self.tokens = dict.fromkeys(_TOKEN_KINDS, 0)
            self.cost = 0.0
            self.unpriced: dict[str, int] = {}
            self.models: dict[str, int] = {}

    def __call__(self, record: Any) -> Any:
        """Processor form: observe and pass the record on unchanged."""
        if getattr(record, "record_type", None) == "span":
            self.add(record)
        return record

    def process_batch(self, batch: list[Any]) -> list[Any]:
        """Batch processor form (on the writer thread): one lock for the whole batch."""
        by_name = self.by_name
        with self._lock:
            first, last = self.first_start_ns, self.last_end_ns
            spans = errors = 0
            for span in batch:
                if span.record_type != "span":
                    continue
                spans += 1
                start, end = span.start_ns, span.end_ns
                if first is None or start < first:
                    first = start
                if last is None or end > last:
                    last = end
                entry = by_name.get(span.name)
                if entry is None:
                    entry = by_name[span.name] = [0, 0, 0]
                entry[0] += 1
                entry[1] += end - start
                x = span._x
                if x is not None:
                    if x.status == "error":
                        errors += 1
                        entry[2] += 1
                    if x.llm is not None:
                        self._add_call(x.llm)
            self.first_start_ns, self.last_end_ns = first, last
            self.span_count += spans
            self.error_count += errors
            if len(self.pending) >= 256:
                self._fold()
        return batch

    def add(self, span: Any) -> None:
        duration = span.end_ns - span.start_ns
        with self._lock:
            self.span_count += 1
            if span.status == "error":
                self.error_count += 1
            if self.first_start_ns is None or span.start_ns < self.first_start_ns:
                self.first_start_ns = span.start_ns
            if self.last_end_ns is None or span.end_ns > self.last_end_ns:
                self.last_end_ns = span.end_ns
            entry = self.by_name.get(span.name)
            if entry is None:
                entry = self.by_name[span.name] = [0, 0, 0]
            entry[0] += 1
            entry[1] += duration
            if span.status == "error":
                entry[2] += 1
            call = span.llm
            if call is not None:
                self._add_call(call)
                if len(self.pending) >= 256:
                    self._fold()

    def _add_call(self, call: LlmCall) -> None:
        self.llm_calls += 1
        self.models[call.model] = self.models.get(call.model, 0) + 1
        if not call.usage_known:
            self.llm_calls_without_usage += 1
        tokens = self.tokens
        tokens["input"] += call.input_tokens or 0
        tokens["output"] += call.output_tokens or 0
        tokens["cache_read"] += call.cache_read_tokens or 0
        tokens["cache_write"] += call.cache_write_tokens or 0
        tokens["reasoning"] += call.reasoning_tokens or 0
        if call.priced:  # trace mode: the pipeline priced it; keep nothing of it
            self._add_cost(call)
        else:  # metrics mode: priced at summary(), off the program's thread
            self.pending.append(call)

    def _add_cost(self, call: LlmCall) -> None:
        if call.cost_usd is not None:
            self.cost += call.cost_usd
        else:
            self.unpriced[call.model] = self.unpriced.get(call.model, 0) + 1

    def _fold(self) -> None:
        for call in self.pending:
            if not call.priced:
                price = self.pricer.price(call)
                call.cost_usd, call.pricing_available = price.cost_usd, price.available
                call.price_source, call.price_version = price.source, price.version
                call.priced = True
            self._add_cost(call)
        self.pending = []

    def summary(self) -> dict[str, Any]:
        with self._lock:
            self._fold()
            start, end = self.first_start_ns, self.last_end_ns
            duration_ms = (end - start) / 1e6 if start is not None and end is not None else 0.0
            pricing_available = not self.unpriced
            tokens = dict(self.tokens)
            tokens["total"] = tokens["input"] + tokens["output"]
            return {
                "duration_ms": round(duration_ms, 3),
                "span_count": self.span_count,
                "error_count": self.error_count,
                "llm_calls": self.llm_calls,
                "llm_calls_without_usage": self.llm_calls_without_usage,
                "tokens": tokens,
                "models_used": sorted(self.models),
                "cost_usd": round(self.cost, 10) if pricing_available else None,
                "pricing_available": pricing_available,
                "unavailable_models": sorted(self.unpriced),
                "partial_cost_usd": round(self.cost, 10),
                "time_by_span_name": {
                    name: {"count": c, "total_ms": round(ns / 1e6, 3), "errors": e}
                    for name, (c, ns, e) in sorted(
                        self.by_name.items(), key=lambda kv: kv[1][1], reverse=True
                    )
                },
            }
