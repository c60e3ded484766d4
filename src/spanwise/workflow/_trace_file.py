"""Trace files under ``SPANWISE_HOME/debug``: naming, string interning, safe writing,
and the workflow trace document.

Strings of 1 KiB or more are stored once, in the ``strings`` table at the end of the file,
and referenced where they occur as ``{"$string": "<sha256>"}`` — a prompt repeated in 100
calls costs its size once. The file stays plain JSON so ``jq`` and ``grep`` work.

Caps: a string longer than 1,000,000 characters is cut (``…[truncated N chars]``, as in
the store's blobs); values nested deeper than 32 levels are replaced by a marker.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from spanwise._ids import format_span_id, format_trace_id
from spanwise._redact import REDACTED, is_secret_key, redact
from spanwise.workflow._collector import CallRecord, RunCollector
from spanwise.workflow._metrics import price_calls, usage_totals

FORMAT_VERSION = 1
INTERN_MIN_CHARS = 1024
MAX_STRING_CHARS = 1_000_000
MAX_DEPTH = 32
REF_KEY = "$string"


class StringTable:
    """Makes a document safe to write, in one pass: JSON values only, spanwise's redaction
    applied (secret-looking keys, credential-shaped text, user hooks; once per distinct
    string), large strings interned into one table keyed by content hash."""

    def __init__(self, min_chars: int = INTERN_MIN_CHARS) -> None:
        self.min_chars = min_chars
        self.strings: dict[str, str] = {}
        self._texts: dict[str, Any] = {}
        self._secret_keys: dict[str, bool] = {}

    def intern(self, value: Any, depth: int = 0) -> Any:
        """A JSON-safe, redacted copy of ``value`` with large strings as references."""
        if isinstance(value, str):
            found = self._texts.get(value)
            if found is None:
                found = self._texts[value] = self._text(value)
            return found
        if value is None or isinstance(value, (bool, int)):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else repr(value)
        if depth >= MAX_DEPTH:
            return f"<nested deeper than {MAX_DEPTH} levels>"
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                key = str(k)
                if v is not None and v != "" and self._is_secret(key):
                    out[key] = REDACTED
                else:
                    out[key] = self.intern(v, depth + 1)
            return out
        if isinstance(value, (list, tuple)):
            return [self.intern(v, depth + 1) for v in value]
        if isinstance(value, (bytes, bytearray)):
            return f"<binary data: {len(value)} bytes>"
        return self.intern(_safe_repr(value), depth + 1)

    def _is_secret(self, key: str) -> bool:
        found = self._secret_keys.get(key)
        if found is None:
            found = self._secret_keys[key] = is_secret_key(key)
        return found

    def _text(self, raw: str) -> Any:
        value = redact(raw)
        if not isinstance(value, str):  # a user hook turned it into something else
            return self.intern(value)
        if len(value) < self.min_chars:
            return value
        if len(value) > MAX_STRING_CHARS:
            cut = len(value) - MAX_STRING_CHARS
            value = f"{value[:MAX_STRING_CHARS]}…[truncated {cut} chars]"
        digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
        self.strings.setdefault(digest, value)
        return {REF_KEY: digest}


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:  # noqa: BLE001 - a repr that raises must not lose the trace
        return f"<unrepresentable {type(value).__name__}>"


def resolve_strings(doc: Any, strings: dict[str, str]) -> Any:
    """The document with every ``{"$string": hash}`` replaced by its text (for readers)."""
    if isinstance(doc, dict):
        if len(doc) == 1 and REF_KEY in doc and doc[REF_KEY] in strings:
            return strings[doc[REF_KEY]]
        return {k: resolve_strings(v, strings) for k, v in doc.items()}
    if isinstance(doc, list):
        return [resolve_strings(v, strings) for v in doc]
    return doc


def safe_name(name: str) -> str:
    """A workflow name reduced to ``[a-zA-Z0-9-]``, at most 30 characters."""
    cleaned = re.sub(r"-{2,}", "-", re.sub(r"[^a-zA-Z0-9-]", "-", name)).strip("-")[:30]
    return cleaned.strip("-") or "workflow"


def trace_path(home: Path, prefix: str, started_at: datetime, execution_id: str) -> Path:
    """``home/debug/<prefix>-<YYYYMMDD-HHMMSS>-<6 hex>.json``."""
    stamp = started_at.strftime("%Y%m%d-%H%M%S")
    return home / "debug" / f"{prefix}-{stamp}-{execution_id.replace('-', '')[:6]}.json"


def write_document(path: Path, doc: dict[str, Any], table: StringTable) -> None:
    """Write ``doc`` (already interned with ``table``) atomically: a reader never sees a
    half-written file. Raises OSError."""
    text = layout({**doc, "strings": table.strings})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def layout(doc: dict[str, Any]) -> str:
    """JSON with one top-level field per line and one list item (a node, an LLM call) or
    string-table entry per line: greppable, and written by the C encoder (fast)."""
    dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=str).encode
    lines = []
    for key, value in doc.items():
        if isinstance(value, list) and value:
            inner = ",\n".join(dumps(item) for item in value)
            lines.append(f"{dumps(key)}: [\n{inner}\n]")
        elif isinstance(value, dict) and value and key == "strings":
            inner = ",\n".join(f"{dumps(k)}: {dumps(v)}" for k, v in value.items())
            lines.append(f"{dumps(key)}: {{\n{inner}\n}}")
        else:
            lines.append(f"{dumps(key)}: {dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}"


_LOCAL = datetime.now().astimezone().tzinfo  # this process's zone, looked up once


def iso(moment: datetime) -> str:
    return moment.astimezone(_LOCAL).isoformat(timespec="milliseconds")


def wall_time(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, _LOCAL).isoformat(timespec="milliseconds")


def call_entry(record: CallRecord) -> dict[str, Any]:
    """One LLM call: model, tokens, cost, timing; prompt and response only when content
    capture was on when it was recorded."""
    span, call = record.span, record.call
    entry: dict[str, Any] = {
        "span_id": format_span_id(span.span_id),
        "provider": call.provider,
        "model": call.request_model,
        "start_time": wall_time(span.start_ns),
        "duration_ms": round((span.end_ns - span.start_ns) / 1e6, 3),
        "status": span.status,
        "input_tokens": call.input_tokens,
        "output_tokens": call.output_tokens,
        "cost_usd": call.cost_usd,
        "pricing_available": bool(call.pricing_available),
    }
    if call.response_model:
        entry["response_model"] = call.response_model
    for name in (
        "cache_read_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "time_to_first_token_ms",
    ):
        value = getattr(call, name)
        if value is not None:
            entry[name] = value
    if span.error_message:
        entry["error"] = span.error_message
    for name in ("system", "prompt", "response"):
        value = getattr(call, name)
        if value:
            entry[name] = value
    return entry


def _resolution(r: dict[str, Any]) -> dict[str, Any]:
    """A template resolution; the value is hidden when the parameter's name is secret."""
    value = r["value"]
    if value not in (None, "") and is_secret_key(r["param"].rsplit(".", 1)[-1]):
        value = REDACTED
    return {**r, "value": value}


def workflow_document(
    collector: RunCollector,
    *,
    workflow_name: str,
    workflow_file: str | None,
    inputs: Any,
    result: Any,
    error: str | None,
    status: str,
    capture_content: bool,
    table: StringTable,
) -> dict[str, Any]:
    """The workflow trace: the run, then one entry per node in execution order."""
    collector.finish()
    calls = [c for c in collector.calls() if c.phase == "workflow"]
    price_calls(calls)
    by_event: dict[int, list[CallRecord]] = {}
    for c in calls:
        if c.event is not None:
            by_event.setdefault(id(c.event), []).append(c)
    clean = table.intern  # user content only; our own metadata is JSON-safe already
    nodes = []
    events = collector.phase_events("workflow")
    for ev in events:
        failure = {"type": ev.error_type, "message": clean(ev.error)} if ev.error else None
        nodes.append(
            {
                "id": ev.node_id,
                "type": ev.node_type,
                "status": ev.status,
                "start_time": wall_time(ev.start_ns),
                "duration_ms": round(ev.duration_ns / 1e6, 3),
                "error": failure,
                "params": clean(ev.params),
                "templates": clean([_resolution(r) for r in ev.templates or ()]),
                "outputs": clean(ev.outputs),
                "store": ev.store_diff or {"added": [], "removed": [], "changed": []},
                "llm_calls": clean([call_entry(c) for c in by_event.get(id(ev), ())]),
            }
        )
    phase = collector.phases.get("workflow")
    start = collector.started_at
    end_ns = phase.end if phase and phase.end is not None else collector.clock()
    duration_ns = end_ns - (phase.start if phase else collector.started)
    totals = usage_totals(calls)
    doc = {
        "format": "spanwise.workflow-trace",
        "format_version": FORMAT_VERSION,
        "execution_id": collector.execution_id,
        "trace_id": format_trace_id(collector.trace_id) if collector.trace_id else None,
        "workflow_name": workflow_name,
        "workflow_file": workflow_file,
        "start_time": iso(start),
        "end_time": iso(start + timedelta(microseconds=duration_ns / 1000)),
        "duration_ms": round(duration_ns / 1e6, 3),
        "status": status,
        "error": clean(error),
        "content_captured": capture_content,
        "inputs": clean(inputs),
        "result": clean(result),
        "nodes_executed": len(events),
        "nodes_failed": sum(1 for e in events if e.status != "success"),
        "llm_summary": {"total_calls": len(calls), **totals},
        "nodes": nodes,
    }
    return doc
