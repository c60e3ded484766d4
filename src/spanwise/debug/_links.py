"""Links from an error report to the LLM calls of its trace.

``LlmLinker`` is a pipeline processor (writer thread): it remembers the last LLM-call
spans of recent traces and hands them to each error record of the same trace. Records
reach the writer in the order they were emitted, so every call that ended before the
error is there; the store views also query all calls of the trace.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from spanwise._ids import format_span_id

MAX_TRACES = 64
MAX_CALLS = 10
RESPONSE_PREVIEW = 1000


class LinkedCall:
    """What an error report needs of one LLM-call span, kept instead of the span itself
    (and all the span refers to); at most ``MAX_TRACES * MAX_CALLS`` are kept. A plain
    class, not a NamedTuple: making a NamedTuple class compiles code, a cost every traced
    process paid at import."""

    __slots__ = (
        "cost_usd",
        "end_ns",
        "error_type",
        "input_tokens",
        "model",
        "name",
        "output_tokens",
        "provider",
        "response",
        "span_id",
        "start_ns",
        "status",
    )

    def __init__(self, span: Any) -> None:
        call = span.llm
        self.span_id: int = span.span_id
        self.name: str = span.name
        self.provider: str = call.provider
        self.model: str = call.response_model or call.request_model
        self.input_tokens: int | None = call.input_tokens
        self.output_tokens: int | None = call.output_tokens
        self.cost_usd: float | None = call.cost_usd
        self.status: str = span.status
        self.error_type: str | None = span.error_type
        self.start_ns: int = span.start_ns
        self.end_ns: int = span.end_ns
        self.response: Any = call.response  # None unless transcripts are kept


class LlmLinker:
    def __init__(self) -> None:
        self._calls: OrderedDict[int, list[LinkedCall]] = OrderedDict()

    def __call__(self, record: Any) -> Any:
        kind = getattr(record, "record_type", None)
        if kind == "span":
            if record.llm is not None:
                self._remember(record)
        elif kind == "error":
            trace_hex = record.report.get("trace_id")
            if trace_hex:
                record.llm_calls = list(self._calls.get(int(trace_hex, 16), ()))
        return record

    def process_batch(self, batch: list[Any]) -> list[Any]:
        """Batch form: plain spans (no LLM call, no error report) cost one attribute read."""
        for record in batch:
            x = getattr(record, "_x", None)
            if x is not None:
                if x.llm is not None and record.record_type == "span":
                    self._remember(record)
            elif record.record_type == "error":
                self(record)
        return batch

    def _remember(self, span: Any) -> None:
        calls = self._calls.get(span.trace_id)
        if calls is None:
            calls = self._calls[span.trace_id] = []
            if len(self._calls) > MAX_TRACES:
                self._calls.popitem(last=False)
        else:
            self._calls.move_to_end(span.trace_id)
        calls.append(LinkedCall(span))
        if len(calls) > MAX_CALLS:
            del calls[0]


def _preview(value: Any) -> Any:
    if value is None:
        return None
    from spanwise._redact import redact
    from spanwise.debug._saferepr import Limits, safe_value

    return redact(
        safe_value(
            value,
            Limits(
                depth=4,
                breadth=10,
                string=RESPONSE_PREVIEW,
                total=4 * RESPONSE_PREVIEW,
                expand_objects=False,
            ),
        )
    )


def llm_summary(call: LinkedCall) -> dict[str, Any]:
    """What an error report shows of one LLM call (the response when content is kept)."""
    return {
        "span_id": format_span_id(call.span_id),
        "name": call.name,
        "provider": call.provider,
        "model": call.model,
        "input_tokens": call.input_tokens,
        "output_tokens": call.output_tokens,
        "cost_usd": call.cost_usd,
        "status": call.status,
        "error_type": call.error_type,
        "start_ns": call.start_ns,
        "duration_ms": (call.end_ns - call.start_ns) / 1e6,
        "response": _preview(call.response),
    }
