"""Assembling spanwise ``Span`` records from decoded OTLP spans, for either encoding:
ids and timestamps checked (a bad span is rejected alone, as OTLP partial success),
strings and collections capped, GenAI attributes turned into a typed ``LlmCall`` so
ingested calls are priced like local ones, prompts kept redacted or dropped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from spanwise._redact import redact
from spanwise._span import MAX_ERROR_MESSAGE, MAX_EVENTS, Span
from spanwise.store._exports import set_span_fields

MAX_NAME_CHARS = 1024
MAX_KEY_CHARS = 256
MAX_ATTRIBUTES = 512
MAX_DEPTH = 8
MAX_LIST_ITEMS = 1000
MAX_NS = 1 << 63  # what a signed 64-bit column holds
MAX_TRACE_ID = 1 << 128
MAX_SPAN_ID = 1 << 64
MAX_TOKENS = 1 << 53

SESSION_KEYS = ("session.id", "gen_ai.conversation.id", "spanwise.session")
SPANWISE_KINDS = frozenset(
    {"workflow", "node", "llm", "tool", "agent", "embedding", "lock", "budget", "internal"}
)
_OPERATION_KINDS = {
    "execute_tool": "tool",
    "invoke_agent": "agent",
    "create_agent": "agent",
    "invoke_workflow": "workflow",
    "embeddings": "embedding",
}
_OPENINFERENCE_KINDS = {
    "LLM": "llm",
    "TOOL": "tool",
    "AGENT": "agent",
    "CHAIN": "node",
    "EMBEDDING": "embedding",
    "RETRIEVER": "tool",
}


class PayloadError(ValueError):
    """The payload does not decode as an OTLP trace export request."""


@dataclass
class Decoded:
    """Spans with the session and process id each belongs to; rejected spans counted."""

    items: list[tuple[str | None, int, Span]] = field(default_factory=list)
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)

    def reject(self, reason: str) -> None:
        self.rejected += 1
        if len(self.reasons) < 3:
            self.reasons.append(reason)

    @property
    def message(self) -> str:
        return "; ".join(self.reasons)


def _content_rules() -> tuple[Callable[..., Any], tuple[str, ...], frozenset[str]]:
    from spanwise.otel._genai import CONTENT_KEY_PREFIXES, GENAI, OI, llm_call_from_attributes

    # A span can be an LLM call only if it carries one of these (the mapper's own rule:
    # an inference operation or kind, or a model name next to token counts). Checking
    # them first skips the mapper for the many spans that are not LLM calls.
    markers = frozenset(
        {
            GENAI.OPERATION,
            OI.SPAN_KIND,
            GENAI.REQUEST_MODEL,
            GENAI.RESPONSE_MODEL,
            GENAI.SYSTEM,
            OI.MODEL_NAME,
        }
    )
    return llm_call_from_attributes, CONTENT_KEY_PREFIXES, markers


# -- values --------------------------------------------------------------------------------
def cap_key(key: Any) -> str:
    text = key if isinstance(key, str) else str(key)
    return text[:MAX_KEY_CHARS]


def clean_text(value: str) -> str:
    """NUL cannot be stored in PostgreSQL text; it becomes U+FFFD."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def finite(value: float) -> float | str:
    """NaN and infinities are kept as text: stored JSON and API replies stay valid JSON."""
    return value if math.isfinite(value) else str(value)


# -- spans ---------------------------------------------------------------------------------
def _kind(attributes: dict[str, Any], llm: Any) -> str:
    explicit = attributes.get("spanwise.span.kind")
    if isinstance(explicit, str) and explicit in SPANWISE_KINDS:
        return explicit
    operation = attributes.get("gen_ai.operation.name")
    if isinstance(operation, str) and operation in _OPERATION_KINDS:
        return _OPERATION_KINDS[operation]
    oi_kind = attributes.get("openinference.span.kind")
    if isinstance(oi_kind, str) and oi_kind.upper() in _OPENINFERENCE_KINDS:
        return _OPENINFERENCE_KINDS[oi_kind.upper()]
    return "llm" if llm is not None else "internal"


def _session(attributes: dict[str, Any]) -> str | None:
    for key in SESSION_KEYS:
        value = attributes.get(key)
        if (
            value is not None
            and value != ""
            and isinstance(value, (str, int))
            and (not isinstance(value, bool))
        ):
            return str(value)[:MAX_KEY_CHARS]
    return None


class Resource:
    """What every span of one resource shares: service name, session, process id."""

    __slots__ = ("pid", "service", "session")

    def __init__(self, attributes: dict[str, Any]) -> None:
        service = attributes.get("service.name")
        self.service = service if isinstance(service, str) else None
        self.session = _session(attributes)
        pid = attributes.get("process.pid")
        self.pid = pid if isinstance(pid, int) and not isinstance(pid, bool) else 0


class Builder:
    """Shared span assembly for both encodings."""

    def __init__(self, keep_content: bool) -> None:
        self.out = Decoded()
        self.keep_content = keep_content
        self.mapper, self.content_prefixes, self.llm_markers = _content_rules()

    def _content(self, attributes: dict[str, Any], content_keys: list[str], llm: Any) -> None:
        """Prompts and outputs: kept (redacted) or dropped. An LLM call's content lives in
        its record (stored once per content hash), not in the span's attributes."""
        keep = self.keep_content
        for key in content_keys:
            if llm is not None or not keep:
                del attributes[key]
            else:
                attributes[key] = redact(attributes[key])
        if llm is not None and keep and content_keys:
            llm.prompt, llm.response = redact(llm.prompt), redact(llm.response)
            llm.system = redact(llm.system)

    def add(
        self,
        resource: Resource,
        trace_id: int | None,
        span_id: int | None,
        parent_id: int | None,
        name: str,
        start_ns: int,
        end_ns: int,
        attributes: dict[str, Any],
        events: list[tuple[str, int, dict[str, Any]]],
        status_code: int,
        status_message: str,
    ) -> None:
        """One span; called once per span of every request, so kept lean."""
        if not trace_id or trace_id >= MAX_TRACE_ID:
            self.out.reject("a span has an invalid trace id")
            return
        if not span_id or span_id >= MAX_SPAN_ID or parent_id is None or parent_id >= MAX_SPAN_ID:
            self.out.reject("a span has an invalid span or parent id")
            return
        if not (0 <= start_ns < MAX_NS and 0 <= end_ns < MAX_NS):
            self.out.reject("a span has a timestamp out of range")
            return
        service = resource.service
        if service is not None and "service.name" not in attributes:
            attributes["service.name"] = service
        prefixes = self.content_prefixes
        content_keys = [k for k in attributes if k.startswith(prefixes)]
        llm = None
        if not self.llm_markers.isdisjoint(attributes):
            # Content extraction only when there is content to extract.
            keep = self.keep_content and bool(content_keys)
            llm = _checked_call(self.mapper(attributes, content=keep))
        if content_keys or llm is not None:
            self._content(attributes, content_keys, llm)
        if len(name) > MAX_NAME_CHARS:
            name = name[:MAX_NAME_CHARS]
        if "\x00" in name:
            name = clean_text(name)
        span = Span(name or "(unnamed)", attributes, _kind(attributes, llm))
        span.trace_id, span.span_id, span.parent_id = trace_id, span_id, parent_id
        span.start_ns = start_ns
        span.end_ns = end_ns if end_ns >= start_ns else start_ns
        if llm is not None or events or status_code == 2:
            fields: dict[str, Any] = {}
            if llm is not None:
                fields["llm"] = llm
            if events:
                fields["events"] = events[:MAX_EVENTS]
            if status_code == 2:
                fields["status"] = "error"
                fields["error_message"] = clean_text(status_message[:MAX_ERROR_MESSAGE]) or None
                fields["error_type"] = _error_type(attributes, events)
            set_span_fields(span, **fields)
        session = resource.session
        if (
            SESSION_KEYS[0] in attributes
            or SESSION_KEYS[1] in attributes
            or (SESSION_KEYS[2] in attributes)
        ):
            session = _session(attributes) or session
        self.out.items.append((session, resource.pid, span))


_TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)


def _checked_call(call: Any) -> Any:
    """Token counts a sender got wrong (negative, absurd) become unknown, never a crash."""
    if call is None:
        return None
    for name in _TOKEN_FIELDS:
        value = getattr(call, name)
        if value is not None and not (isinstance(value, int) and 0 <= value < MAX_TOKENS):
            setattr(call, name, None)
    ttft = call.time_to_first_token_ms
    if ttft is not None and not (isinstance(ttft, (int, float)) and math.isfinite(ttft)):
        call.time_to_first_token_ms = None
    return call


def _error_type(attributes: dict[str, Any], events: list[tuple[str, int, dict[str, Any]]]) -> str:
    for name, _, attrs in events:
        if name == "exception" and isinstance(attrs.get("exception.type"), str):
            return str(attrs["exception.type"])[:MAX_KEY_CHARS]
    error_type = attributes.get("error.type")
    return str(error_type)[:MAX_KEY_CHARS] if error_type is not None else "Error"
