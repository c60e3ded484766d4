"""Transcripts: the prompts, system prompts, tool calls and responses of LLM calls.

They are kept only when content capture is on (``SPANWISE_CAPTURE_CONTENT=1`` or
``configure(capture_content=True)``). A pipeline processor, running on the writer thread
before any sink, turns them into plain JSON, redacts them (secret-named keys and
credential-shaped values, then the user's redaction hooks; when a hook raises, the fixed
placeholder ``[REDACTION FAILED]`` is stored, never the raw value) and caps them.
So nothing unredacted reaches the store, JSONL files or OTLP. Large texts are stored
once per content hash by the store.

Caps (each documented, truncation marked on the span as ``spanwise.content.truncated``):
``MAX_STRING_CHARS`` per string, ``MAX_ITEMS`` per list or dict, ``MAX_DEPTH`` of nesting
and ``MAX_FIELD_CHARS`` per prompt, response or system prompt as JSON.

The attributes of LLM-call spans and of spans recorded from OpenTelemetry are redacted
too (integrations never put content there, foreign instrumentations may).

Shapes stored: ``prompt`` is the request's message list as the provider took it (or the
prompt string), ``system`` the system prompt, ``response`` a list of output messages
(``{"role": "assistant", "content": …, "tool_calls": …}`` or the provider's blocks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spanwise import _internal, _redact
from spanwise._redact import REDACTED, is_secret_key, redact, redact_text
from spanwise._setup import PIPELINE_EXTENSIONS

# Loaded with this module (at ``configure``), not by the processor on the writer thread: a
# fork must never copy an import in progress there.
from spanwise.store._json import dumps

if TYPE_CHECKING:
    from spanwise._export import Exporter, Processor
    from spanwise._settings import Settings

MAX_STRING_CHARS = 32_768
MAX_ITEMS = 512
MAX_DEPTH = 12
MAX_FIELD_CHARS = 262_144
TRUNCATED_ATTR = "spanwise.content.truncated"
_FIELDS = ("prompt", "response", "system")


class _Budget:
    __slots__ = ("truncated",)

    def __init__(self) -> None:
        self.truncated = False


def to_jsonable(value: Any, budget: _Budget | None = None, depth: int = 0) -> Any:
    """Plain JSON-able data from SDK objects (pydantic models, dataclasses, mappings),
    with the item and depth caps applied."""
    budget = budget if budget is not None else _Budget()
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if depth >= MAX_DEPTH:
        budget.truncated = True
        return _short_repr(value)
    if isinstance(value, dict):
        items = list(value.items())
        if len(items) > MAX_ITEMS:
            budget.truncated = True
            items = items[:MAX_ITEMS]
        return {str(k): to_jsonable(v, budget, depth + 1) for k, v in items}
    if isinstance(value, (list, tuple, set, frozenset)):
        seq = list(value)
        if len(seq) > MAX_ITEMS:
            budget.truncated = True
            seq = seq[:MAX_ITEMS]
        return [to_jsonable(v, budget, depth + 1) for v in seq]
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    dumped = _model_dump(value)
    if dumped is not None:
        return to_jsonable(dumped, budget, depth + 1)
    return _short_repr(value)


def _model_dump(value: Any) -> Any:
    """The dict form of pydantic models (v2 and v1) and dataclasses; None otherwise."""
    try:
        dump = getattr(value, "model_dump", None)
        if callable(dump):
            return dump(mode="json", exclude_none=True)
        as_dict = getattr(value, "dict", None)
        if callable(as_dict) and hasattr(value, "__fields__"):
            return as_dict(exclude_none=True)
        import dataclasses

        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return dataclasses.asdict(value)
    except Exception:  # noqa: BLE001 - an odd object is stored as its repr
        return None
    return None


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001
        text = f"<unrepresentable {type(value).__name__}>"
    return text[:MAX_STRING_CHARS]


def _cap_strings(value: Any, budget: _Budget) -> Any:
    if isinstance(value, str):
        if len(value) > MAX_STRING_CHARS:
            budget.truncated = True
            return value[:MAX_STRING_CHARS] + f"…[truncated {len(value) - MAX_STRING_CHARS} chars]"
        return value
    if isinstance(value, dict):
        return {k: _cap_strings(v, budget) for k, v in value.items()}
    if isinstance(value, list):
        return [_cap_strings(v, budget) for v in value]
    return value


def clean(value: Any) -> tuple[Any, bool]:
    """(redacted and capped JSON-able form of ``value``, whether anything was cut)."""
    budget = _Budget()
    plain = to_jsonable(value, budget)
    # Redact before cutting: a cut through a secret could leave a prefix no pattern matches.
    redacted = redact(plain)
    capped = _cap_strings(redacted, budget)
    if not isinstance(capped, str):
        text = dumps(capped)
        if len(text) > MAX_FIELD_CHARS:
            budget.truncated = True
            capped = text[:MAX_FIELD_CHARS] + f"…[truncated {len(text) - MAX_FIELD_CHARS} chars]"
    return capped, budget.truncated


def redact_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """Span attributes with secret-named keys and credential-shaped values replaced."""
    result: dict[str, Any] = {}
    plain_text = not _redact._hooks  # no user hook: a string needs only the text rules
    for key, value in attributes.items():
        kind = type(value)
        if value is None or kind is int or kind is float or kind is bool:
            result[key] = value  # numbers and flags are kept, whatever the key
        elif value != "" and is_secret_key(key) and not isinstance(value, (int, float)):
            result[key] = REDACTED
        elif kind is str and plain_text:
            result[key] = redact_text(value)
        elif isinstance(value, (str, list, tuple, dict)):
            result[key] = redact(value)
        else:
            result[key] = value
    return result


def transcript_processor(capture_content: bool) -> Processor:
    """The pipeline processor that keeps, converts, redacts and caps transcripts."""

    def transcripts(record: Any) -> Any:
        if getattr(record, "record_type", None) != "span":
            return record
        call = record.llm
        if call is not None:
            if capture_content:
                truncated = False
                for name in _FIELDS:
                    value = getattr(call, name)
                    if value is not None:
                        cleaned, cut = clean(value)
                        setattr(call, name, cleaned)
                        truncated = truncated or cut
                if truncated:
                    record.attributes[TRUNCATED_ATTR] = True
            else:
                call.prompt = call.response = call.system = None
        if (call is not None or getattr(record, "foreign", False)) and record.attributes:
            record.attributes = redact_attributes(record.attributes)
            if record.events:
                record._extras().events = [
                    (name, ts, redact_attributes(attrs) if attrs else attrs)
                    for name, ts, attrs in record.events
                ]
        return record

    def process_batch(batch: list[Any]) -> list[Any]:
        # Most spans carry no LLM call and are no foreign (OpenTelemetry) span: skip them
        # without a call. The others are cleaned one by one, each failure on its own.
        for record in batch:
            if getattr(record, "_x", None) is None and not getattr(record, "foreign", False):
                continue
            try:
                transcripts(record)
            except Exception as exc:  # noqa: BLE001 - one bad record must not stop the rest
                _internal.report("processor transcripts", exc)
        return batch

    transcripts.process_batch = process_batch  # type: ignore[attr-defined]
    return transcripts


def _extension(settings: Settings) -> tuple[list[Processor], list[Exporter]]:
    return [transcript_processor(settings.capture_content)], []


def redact_call(call: Any) -> None:
    """Clean an LLM call's transcript in place (for code that writes records without the
    pipeline, such as OTLP ingest)."""
    for name in _FIELDS:
        value = getattr(call, name)
        if value is not None:
            try:
                setattr(call, name, clean(value)[0])
            except Exception as exc:  # noqa: BLE001
                _internal.report("transcripts.redact_call", exc)
                setattr(call, name, None)


if _extension not in PIPELINE_EXTENSIONS:
    PIPELINE_EXTENSIONS.append(_extension)
