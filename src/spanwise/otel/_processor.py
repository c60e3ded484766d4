"""``SpanwiseProcessor``: OpenTelemetry spans recorded in spanwise.

Add it to any OpenTelemetry SDK ``TracerProvider``::

    provider.add_span_processor(spanwise.otel.SpanwiseProcessor())

Every ended span becomes a spanwise span with the same trace and span ids; spans that
describe an LLM call (GenAI v1.41 names, the older ``gen_ai.system`` /
``gen_ai.usage.prompt_tokens`` names, OpenInference ``llm.*``) become ``llm`` spans with
typed tokens, priced like any other call. Content attributes (messages, ``input.value``
…) are dropped unless content capture is on, and are redacted when kept.

An OpenTelemetry trace that starts inside a spanwise span is nested under it (its spans
take the spanwise trace id), so OpenTelemetry-instrumented libraries used within
``spanwise.span(...)`` show up in the same tree.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.trace import StatusCode

from spanwise import _internal
from spanwise._runtime import RT
from spanwise._span import MAX_ERROR_MESSAGE, MAX_EVENTS, Span, current
from spanwise.otel._genai import GENAI, OI, is_content_key, llm_call_from_attributes

MAX_REMAPPED_TRACES = 4096

_OI_KINDS = {"TOOL": "tool", "AGENT": "agent", "RETRIEVER": "tool", "CHAIN": "internal"}
_OPERATION_KINDS = {
    "execute_tool": "tool",
    "invoke_agent": "agent",
    "create_agent": "agent",
    "invoke_workflow": "workflow",
}


class ForeignSpan(Span):
    """A span recorded from OpenTelemetry: its attributes are redacted in the pipeline."""

    __slots__ = ()
    foreign = True


class SpanwiseProcessor(SpanProcessor):
    """Records ended OpenTelemetry spans in spanwise (a no-op while spanwise is off).

    ``capture_content`` overrides spanwise's content-capture setting for these spans.
    """

    def __init__(self, *, capture_content: bool | None = None) -> None:
        self.capture_content = capture_content
        self._remap: OrderedDict[int, tuple[int, int]] = OrderedDict()
        self._lock = threading.Lock()

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        if RT.emit is None:
            return
        try:
            parent = span.parent
            if parent is not None and parent.is_valid:
                return
            outer = current.get()
            if outer is None or not outer.span_id:
                return
            with self._lock:
                self._remap[span.context.trace_id] = (outer.trace_id, outer.span_id)
                while len(self._remap) > MAX_REMAPPED_TRACES:
                    self._remap.popitem(last=False)
        except Exception as exc:  # noqa: BLE001
            _internal.report("otel.on_start", exc)

    def on_end(self, span: ReadableSpan) -> None:
        emit = RT.emit
        if emit is None:
            return
        try:
            emit(self._convert(span))
        except Exception as exc:  # noqa: BLE001
            _internal.report("otel.on_end", exc)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        from spanwise._setup import flush

        return flush(timeout_millis / 1000)

    def _convert(self, span: ReadableSpan) -> ForeignSpan:
        capture = RT.capture_content if self.capture_content is None else self.capture_content
        source = dict(span.attributes or {})
        call = llm_call_from_attributes(source, content=capture)
        attributes = {
            k: v for k, v in source.items() if not (is_content_key(k) and (call or not capture))
        }
        scope = span.instrumentation_scope
        if scope is not None and scope.name:
            attributes.setdefault("otel.scope.name", scope.name)
        s = ForeignSpan(span.name, attributes, "llm" if call is not None else _kind(source))
        s.llm = call
        ctx = span.context
        trace_id = ctx.trace_id if ctx is not None else 0
        parent = span.parent
        parent_id = parent.span_id if parent is not None and parent.is_valid else 0
        outer = self._remap.get(trace_id)
        if outer is not None:
            trace_id = outer[0]
            parent_id = parent_id or outer[1]
        s.trace_id = trace_id
        s.span_id = ctx.span_id if ctx is not None else RT.new_span()
        s.parent_id = parent_id
        s.start_ns = span.start_time or 0
        s.end_ns = max(span.end_time or s.start_ns, s.start_ns)
        self._status(s, span, source)
        if span.events:
            s._extras().events = [
                (event.name, event.timestamp, dict(event.attributes or {}))
                for event in list(span.events)[:MAX_EVENTS]
            ]
        return s

    @staticmethod
    def _status(s: Span, span: ReadableSpan, attributes: dict[str, Any]) -> None:
        status = span.status
        if status is None or status.status_code is not StatusCode.ERROR:
            return
        x = s._extras()
        x.status = "error"
        exception = next((e for e in span.events if e.name == "exception"), None)
        exc_attrs = dict(exception.attributes or {}) if exception is not None else {}
        error_type = attributes.get(GENAI.ERROR_TYPE) or exc_attrs.get("exception.type")
        message = status.description or exc_attrs.get("exception.message")
        x.error_type = str(error_type) if error_type else None
        x.error_message = str(message)[:MAX_ERROR_MESSAGE] if message else None


def _kind(attributes: dict[str, Any]) -> str:
    operation = attributes.get(GENAI.OPERATION)
    if isinstance(operation, str) and operation in _OPERATION_KINDS:
        return _OPERATION_KINDS[operation]
    oi_kind = attributes.get(OI.SPAN_KIND)
    if isinstance(oi_kind, str):
        return _OI_KINDS.get(oi_kind.upper(), "internal")
    return "internal"
