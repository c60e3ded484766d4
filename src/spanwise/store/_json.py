"""JSON encoding for stored attributes: never raises, caps every string."""

from __future__ import annotations

import json
from typing import Any

MAX_ATTRIBUTE_CHARS = 8_192


def _default(value: Any) -> Any:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a hostile __repr__ must not break the writer
        text = f"<unrepresentable {type(value).__name__}>"
    return text[:MAX_ATTRIBUTE_CHARS]


def dumps(value: Any) -> str:
    try:
        text = json.dumps(value, default=_default, separators=(",", ":"), ensure_ascii=False)
    except (ValueError, TypeError, RecursionError):
        text = json.dumps(_default(value))
    return text


def c_encoder(default: Any, key_separator: str, item_separator: str, allow_nan: bool) -> Any:
    """json's C encoder, built once for many values (``json.dumps`` builds it on every
    call): ``encoder(value, 0)`` returns the JSON text in chunks, without a cycle check
    and with text kept as it is (no ``\\u`` escapes). None without the C accelerator."""
    from json import encoder

    make = getattr(encoder, "c_make_encoder", None)
    if make is None:
        return None
    return make(
        None,
        default,
        getattr(encoder, "c_encode_basestring", None) or encoder.py_encode_basestring,
        None,
        key_separator,
        item_separator,
        False,
        False,
        allow_nan,
    )


_FAST = c_encoder(_default, ":", ",", allow_nan=True)


def dumps_attributes(attributes: dict[str, Any] | None) -> str | None:
    if not attributes:
        return None
    for value in attributes.values():
        if value.__class__ is str and len(value) > MAX_ATTRIBUTE_CHARS:
            attributes = {
                str(k): (v[:MAX_ATTRIBUTE_CHARS] if isinstance(v, str) else v)
                for k, v in attributes.items()
            }
            break
    if _FAST is not None:
        try:
            return "".join(_FAST(attributes, 0))
        except (ValueError, TypeError, RecursionError):
            pass
    return dumps(attributes)


_CACHE: dict[tuple[Any, ...], str | None] = {}
_CACHE_MAX = 4096


def cached_attributes_json(attributes: dict[str, Any] | None) -> str | None:
    """``dumps_attributes`` with a small cache: spans of one kind tend to repeat the same
    attributes, and hashing them is several times cheaper than encoding them."""
    if not attributes:
        return None
    try:
        key = tuple(attributes.items())
        found = _CACHE.get(key)
    except TypeError:  # an unhashable value (list, dict): encode every time
        return dumps_attributes(attributes)
    if found is None:
        found = dumps_attributes(attributes)
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[key] = found
    return found
