"""Trace files under ``SPANWISE_HOME/debug``: naming, string interning, safe writing and
time stamps (the documents themselves: ``_workflow_trace`` and ``_planner_trace``).

Strings of 1 KiB or more are stored once, in the ``strings`` table at the end of the file,
and referenced where they occur as ``{"$string": "<sha256>"}`` — a prompt repeated in 100
calls costs its size once. The file stays plain JSON so ``jq`` and ``grep`` work.

Caps: a string longer than 1,000,000 characters is cut (``…[truncated N chars]``, as in
the store's blobs); values nested deeper than 32 levels are replaced by a marker.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from spanwise._redact import REDACTED, is_secret_key, redact_string
from spanwise._speedups import load
from spanwise.store._blobs import content_hash
from spanwise.store._json import c_encoder

FORMAT_VERSION = 1
INTERN_MIN_CHARS = 1024
MAX_STRING_CHARS = 1_000_000
MAX_DEPTH = 32
REF_KEY = "$string"
_TOO_DEEP = f"<nested deeper than {MAX_DEPTH} levels>"
_TRACEJSON = load("spanwise.workflow._tracejson", 1)


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
        kind = type(value)
        if kind is str:
            found = self._texts.get(value)
            if found is None:
                found = self._texts[value] = self._text(value)
            return found
        if kind is dict:
            return self._dict(value, depth) if depth < MAX_DEPTH else _TOO_DEEP
        if value is None or kind is int or kind is bool:
            return value
        if kind is list or kind is tuple:
            if depth >= MAX_DEPTH:
                return _TOO_DEEP
            return [self.intern(v, depth + 1) for v in value]
        return self._other(value, depth)

    def _dict(self, value: dict[Any, Any], depth: int) -> dict[str, Any]:
        # The common shapes (flat dicts of strings and numbers) without a call per item.
        texts, verdicts, deeper = self._texts, self._secret_keys, depth + 1
        out = {}
        for k, v in value.items():
            key = k if type(k) is str else str(k)
            secret = verdicts.get(key)
            if secret is None:
                secret = self._is_secret(key)
            kind = type(v)
            if secret and v is not None and v != "":
                out[key] = REDACTED
            elif kind is str:
                found = texts.get(v)
                if found is None:
                    found = texts[v] = self._text(v)
                out[key] = found
            elif v is None or kind is int or kind is bool:
                out[key] = v
            else:
                out[key] = self.intern(v, deeper)
        return out

    def _other(self, value: Any, depth: int) -> Any:
        """Subclasses of the JSON types, floats, bytes and any other object."""
        if isinstance(value, str):  # its text, as JSON would write it (not its __str__)
            return self.intern(str.__str__(value), depth)
        if isinstance(value, int):  # bool is final: only int subclasses (IntEnum) get here
            return int.__index__(value)
        if isinstance(value, float):
            return value if math.isfinite(value) else repr(value)
        if depth >= MAX_DEPTH:
            return _TOO_DEEP
        if isinstance(value, dict):
            return self._dict(value, depth)
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
        value = redact_string(raw)
        if not isinstance(value, str):  # a user hook turned it into something else
            return self.intern(value)
        if len(value) < self.min_chars:
            return value
        if len(value) > MAX_STRING_CHARS:
            cut = len(value) - MAX_STRING_CHARS
            value = f"{value[:MAX_STRING_CHARS]}…[truncated {cut} chars]"
        digest = content_hash(value)
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


_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


def safe_name(name: str) -> str:
    """A workflow name reduced to ``[a-zA-Z0-9-]`` (other characters become ``-``, runs of
    ``-`` one), at most 30 characters."""
    dashed = "".join(c if c in _NAME_CHARS else "-" for c in name)
    cleaned = "-".join(part for part in dashed.split("-") if part)[:30]
    return cleaned.strip("-") or "workflow"


def trace_path(home: Path, prefix: str, started_at: datetime, execution_id: str) -> Path:
    """``home/debug/<prefix>-<YYYYMMDD-HHMMSS>-<6 hex>.json``."""
    stamp = started_at.strftime("%Y%m%d-%H%M%S")
    return home / "debug" / f"{prefix}-{stamp}-{execution_id.replace('-', '')[:6]}.json"


def write_document(path: Path, doc: dict[str, Any], table: StringTable) -> None:
    """Write ``doc`` (already interned with ``table``) atomically: a reader never sees a
    half-written file. Raises OSError."""
    data = layout({**doc, "strings": table.strings})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.write(b"\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def layout(doc: dict[str, Any]) -> bytes:
    """UTF-8 JSON with one top-level field per line and one list item (a node, an LLM
    call) or string-table entry per line: greppable, and written in C when it can be."""
    dumps = _encoder()
    lines = []
    for key, value in doc.items():
        if isinstance(value, list) and value:
            inner = b",\n".join([dumps(item) for item in value])
            lines.append(b"%s: [\n%s\n]" % (dumps(key), inner))
        elif isinstance(value, dict) and value and key == "strings":
            inner = b",\n".join([b"%s: %s" % (dumps(k), dumps(v)) for k, v in value.items()])
            lines.append(b"%s: {\n%s\n}" % (dumps(key), inner))
        else:
            lines.append(b"%s: %s" % (dumps(key), dumps(value)))
    return b"{\n" + b",\n".join(lines) + b"\n}"


def _encoder() -> Callable[[Any], bytes]:
    """One line's JSON as UTF-8: ``_tracejson.encode`` when it is built, else (and for a
    value it does not take) json's encoder, whose text is the same."""
    slow = _json_encoder()
    fast = None if _TRACEJSON is None else _TRACEJSON.encode
    if fast is None:
        return lambda value: slow(value).encode("utf-8")

    def dumps(value: Any) -> bytes:
        try:
            data: bytes = fast(value)
        except (TypeError, ValueError):
            return slow(value).encode("utf-8")
        return data

    return dumps


def _json_encoder() -> Callable[[Any], str]:
    """``json.dumps`` for values ``StringTable.intern`` made (no cycle check needed: it built
    every container afresh, depth-capped; no NaN; text kept as UTF-8), with one C encoder
    for every line rather than one set up per line (a line is one node)."""
    encode = c_encoder(str, ": ", ", ", allow_nan=False)
    if encode is None:
        return json.JSONEncoder(
            ensure_ascii=False, allow_nan=False, default=str, check_circular=False
        ).encode
    join = "".join
    return lambda value: join(encode(value, 0))


_LOCAL = datetime.now().astimezone().tzinfo  # this process's zone, looked up once


def iso(moment: datetime) -> str:
    return moment.astimezone(_LOCAL).isoformat(timespec="milliseconds")


# The last second formatted: (epoch second, "YYYY-MM-DDTHH:MM:SS", "+HH:MM").
_last_second: tuple[int, str, str] = (-1, "", "")


def wall_time(ns: int) -> str:
    """``ns`` (epoch nanoseconds) as local ISO 8601 with milliseconds. Nodes and calls
    come in time order, so the last second's text serves the next stamps too."""
    global _last_second
    second, rest = divmod(ns, 1_000_000_000)
    cached = _last_second
    if cached[0] != second:
        text = datetime.fromtimestamp(second, _LOCAL).isoformat(timespec="seconds")
        cached = _last_second = (second, text[:19], text[19:])
    return f"{cached[1]}.{rest // 1_000_000:03d}{cached[2]}"


def is_secret_param(path: str) -> bool:
    """Whether a parameter path (``args.api_key``) ends in a name that reads as secret."""
    return is_secret_key(path.rsplit(".", 1)[-1])
