"""A repr that cannot raise: any Python value becomes a bounded, JSON-ready structure.

Built-in containers are read through the base types' own methods (``dict.items``,
``list.__getitem__``), so a subclass that overrides them runs no code of its own. Other
objects go through ``repr()`` inside a guard; objects with the default repr and a
``__dict__`` are shown as their attributes (when ``expand_objects`` is on) instead of an
address. Every cap (depth, breadth, string length, total size) marks what it cut.

Secrets, by the rules of ``spanwise._redact``: a key that names a secret has its value
replaced without the value being looked at, credential-shaped text is replaced (before a
string is cut, so no credential survives in part), and ``name=value`` pairs inside a
repr are scrubbed by the key rule. User redaction hooks run afterwards (``apply_hooks``).
A container met again in the same walk (the program's state in every frame) is walked
once and its result shared.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from itertools import islice
from typing import Any

from spanwise._redact import REDACTED, is_secret_key, redact_text


@dataclass(frozen=True)
class Limits:
    depth: int = 5
    breadth: int = 20
    string: int = 1024
    total: int = 1_000_000  # characters in the whole result
    key: int = 200
    expand_objects: bool = True


LOCALS_LIMITS = Limits()
# State snapshots: deeper and wider than locals, objects become their repr.
STATE_LIMITS = Limits(depth=12, breadth=1000, string=4096, total=1_000_000, expand_objects=False)

CYCLIC = "<cyclic reference>"
OVER_BUDGET = "<omitted: size cap reached>"

_SCALARS = (str, int, float, bool, type(None))
# ``name=value`` / ``'name': value`` inside a repr: the value is scrubbed when the name
# names a secret.
_PAIR = re.compile(
    r"""(?P<key>[A-Za-z_][\w\-]*)(?P<sep>['"]?\s*[=:]\s*)"""
    r"""(?P<val>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s,)}\]>]+)"""
)


class Budget:
    """Characters left for one report; shared by every value walked into it."""

    __slots__ = ("left", "truncated")

    def __init__(self, total: int) -> None:
        self.left = total
        self.truncated = False


def scrub_repr(text: str) -> str:
    """Redact credential-shaped text and the values of secret-named ``k=v`` pairs."""
    text = redact_text(text)
    if "=" not in text and ":" not in text:
        return text

    def repl(m: re.Match[str]) -> str:
        if is_secret_key(m.group("key")):
            return f"{m.group('key')}{m.group('sep')}{REDACTED!r}"
        return m.group(0)

    return _PAIR.sub(repl, text)


def _type_name(obj: Any) -> str:
    try:
        cls = type(obj)
        module = cls.__module__
        name = cls.__qualname__
        return name if module in ("builtins", None) else f"{module}.{name}"
    except Exception:  # noqa: BLE001 - a hostile metaclass
        return "object"


def _guarded_repr(obj: Any) -> str:
    try:
        text = repr(obj)
        if not isinstance(text, str):
            return f"<{_type_name(obj)} with a broken __repr__>"
        return text
    except Exception as exc:  # noqa: BLE001 - the whole point: a __repr__ may raise
        return f"<{_type_name(obj)} repr raised {type(exc).__name__}>"


class Walker:
    """Turns values into bounded JSON-ready data under one ``Budget``."""

    __slots__ = ("_memo", "_path", "budget", "limits")

    def __init__(self, limits: Limits = LOCALS_LIMITS, budget: Budget | None = None) -> None:
        self.limits = limits
        self.budget = budget if budget is not None else Budget(limits.total)
        self._path: set[int] = set()
        # (id, depth) -> (object, result, size): a container seen in many frames (the
        # program's state, say) is walked once per report and its size counted each time.
        self._memo: dict[tuple[int, int], tuple[Any, Any, int]] = {}

    # -- public -------------------------------------------------------------------------
    def value(self, obj: Any) -> Any:
        """The bounded form of ``obj``; never raises."""
        try:
            return self._walk(obj, 0)
        except Exception:  # noqa: BLE001 - last line of defence (RecursionError included)
            return f"<{_type_name(obj)}: unrepresentable>"

    def mapping(self, items: dict[str, Any]) -> dict[str, Any]:
        """A name → value mapping (frame locals, object attributes), secrets redacted."""
        return self._dict_items(list(islice(items.items(), self.limits.breadth)), len(items), 0)

    # -- internals ----------------------------------------------------------------------
    def _spend(self, n: int) -> bool:
        budget = self.budget
        if budget.left <= 0:
            budget.truncated = True
            return False
        budget.left -= n
        return True

    def _text(self, text: str, cap: int) -> str:
        n = len(text)
        if n > cap:
            # Redact before cutting so a credential across the cut cannot leak in part.
            text = redact_text(text[: cap + 256])[:cap] + f"…[{n - cap} more chars]"
        elif n <= SHORT_TEXT:
            text = _clean_short(text)
        else:
            text = redact_text(text)
        budget = self.budget
        if budget.left <= 0:
            budget.truncated = True
            return OVER_BUDGET
        budget.left -= len(text)
        return text

    def _walk(self, obj: Any, depth: int) -> Any:
        cls = type(obj)
        if cls is str:
            return self._text(obj, self.limits.string)
        if cls is int or cls is bool or obj is None:
            self.budget.left -= 8
            if cls is int and obj.bit_length() > 63:
                return self._text(_int_text(obj), self.limits.string)
            return obj
        if cls is float:
            self.budget.left -= 8
            if math.isfinite(obj):
                return obj
            return "NaN" if math.isnan(obj) else ("Infinity" if obj > 0 else "-Infinity")
        if self.budget.left <= 0:
            self.budget.truncated = True
            return OVER_BUDGET
        if issubclass(cls, dict):
            return self._container(obj, depth, self._dict)
        if issubclass(cls, (list, tuple)):
            return self._container(obj, depth, self._sequence)
        if issubclass(cls, (set, frozenset)):
            return self._container(obj, depth, self._set)
        if issubclass(cls, (bytes, bytearray, memoryview)):
            return self._bytes(obj)
        if self.limits.expand_objects and _default_repr(cls):
            attrs = _instance_dict(obj)
            if attrs is not None:
                return self._container(obj, depth, lambda o, d: self._object(o, attrs, d))
        return self._text(scrub_repr(_guarded_repr(obj)), self.limits.string)

    def _container(self, obj: Any, depth: int, body: Any) -> Any:
        key = id(obj)
        if key in self._path:
            return CYCLIC
        if depth >= self.limits.depth:
            return self._text(_summary(obj), self.limits.string)
        seen = self._memo.get((key, depth))
        if seen is not None and seen[0] is obj:
            self._spend(seen[2])
            return seen[1]
        budget = self.budget
        before = budget.left
        self._path.add(key)
        try:
            result = body(obj, depth + 1)
        finally:
            self._path.discard(key)
        if not budget.truncated:
            self._memo[(key, depth)] = (obj, result, before - budget.left)
        return result

    def _dict(self, obj: dict[Any, Any], depth: int) -> dict[str, Any]:
        # dict.items(obj): the base class's view, so an overriding subclass runs no code.
        items = list(islice(dict.items(obj), self.limits.breadth))
        return self._dict_items(items, dict.__len__(obj), depth)

    def _dict_items(self, items: list[tuple[Any, Any]], total: int, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        budget = self.budget
        key_cap = self.limits.key
        known = _secret_names.get
        for k, v in items:
            name = k if type(k) is str else scrub_repr(_guarded_repr(k))
            if len(name) > key_cap:
                name = name[:key_cap] + "…"
            budget.left -= len(name) + 2
            secret = known(name)
            if secret is None:
                secret = _secret(name)
            if secret and v is not None and not (type(v) is str and v == ""):
                out[name] = REDACTED
            else:
                out[name] = self._walk(v, depth)
        if total > len(out):
            out["…"] = f"[{total - len(out)} more keys]"
        return out

    def _sequence(self, obj: Any, depth: int) -> list[Any]:
        base = list if issubclass(type(obj), list) else tuple
        n = base.__len__(obj)
        shown = min(n, self.limits.breadth)
        walk = self._walk
        out = [walk(item, depth) for item in base.__getitem__(obj, slice(0, shown))]
        if n > shown:
            out.append(f"…[{n - shown} more items]")
        return out

    def _set(self, obj: Any, depth: int) -> list[Any]:
        base = set if issubclass(type(obj), set) else frozenset
        n = base.__len__(obj)
        walk = self._walk
        out = [walk(item, depth) for item in islice(base.__iter__(obj), self.limits.breadth)]
        if n > len(out):
            out.append(f"…[{n - len(out)} more items]")
        return out

    def _object(self, obj: Any, attrs: dict[str, Any], depth: int) -> dict[str, Any]:
        items = list(islice(dict.items(attrs), self.limits.breadth))
        out = {"__class__": _type_name(obj)}
        out.update(self._dict_items(items, dict.__len__(attrs), depth))
        return out

    def _bytes(self, obj: Any) -> str:
        try:
            head = bytes(obj[: self.limits.string])
            n = len(obj)
        except Exception:  # noqa: BLE001 - a released memoryview, a hostile buffer
            return f"<{_type_name(obj)}>"
        text = repr(head)
        if n > len(head):
            text += f"…[{n - len(head)} more bytes]"
        return self._text(redact_text(text), self.limits.string + 64)


_secret_names: dict[str, bool] = {}
_clean: dict[str, str] = {}
SHORT_TEXT = 64  # strings up to this long are redacted through a small cache


def _clean_short(text: str) -> str:
    """``redact_text`` for short strings, remembered (the same values recur)."""
    done = _clean.get(text)
    if done is None:
        done = redact_text(text)
        if done == text:  # only clean strings are kept: the cache never holds a secret
            if len(_clean) > 4096:
                _clean.clear()
            _clean[text] = done
    return done


def _secret(name: str) -> bool:
    """``is_secret_key``, remembered: the same few names recur in every frame."""
    known = _secret_names.get(name)
    if known is None:
        if len(_secret_names) > 4096:
            _secret_names.clear()
        known = _secret_names[name] = is_secret_key(name)
    return known


def apply_hooks(value: Any) -> Any:
    """Run the user's redaction hooks (``spanwise._redact.add_redaction_hook``) over a
    walked value; the built-in rules were already applied during the walk."""
    from spanwise import _redact

    return _redact.redact(value) if _redact._hooks else value


def _default_repr(cls: type) -> bool:
    try:
        return getattr(cls, "__repr__", None) is object.__repr__
    except Exception:  # noqa: BLE001
        return False


def _instance_dict(obj: Any) -> dict[str, Any] | None:
    try:
        attrs = object.__getattribute__(obj, "__dict__")
    except Exception:  # noqa: BLE001 - no __dict__, or a hostile descriptor
        return None
    return attrs if type(attrs) is dict else None


def _summary(obj: Any) -> str:
    try:
        cls = type(obj)
        if issubclass(cls, dict):
            return f"<{_type_name(obj)} with {dict.__len__(obj)} keys>"
        if issubclass(cls, (list, tuple)):
            base = list if issubclass(cls, list) else tuple
            return f"<{_type_name(obj)} with {base.__len__(obj)} items>"
        if issubclass(cls, (set, frozenset)):
            base2 = set if issubclass(cls, set) else frozenset
            return f"<{_type_name(obj)} with {base2.__len__(obj)} items>"
    except Exception:  # noqa: BLE001
        pass
    return f"<{_type_name(obj)}>"


def _int_text(value: int) -> str:
    try:
        return repr(value)
    except ValueError:  # more digits than int→str conversion allows
        return f"<int with {value.bit_length()} bits>"


def safe_value(obj: Any, limits: Limits = LOCALS_LIMITS) -> Any:
    """The bounded, redacted, JSON-ready form of one value."""
    return apply_hooks(Walker(limits).value(obj))


def safe_repr(obj: Any, limit: int = 1024) -> str:
    """A one-line repr that never raises, is at most about ``limit`` characters long and
    has credentials scrubbed."""
    if type(obj) is str:
        text = redact_text(repr(obj[: limit + 256]))
    else:
        text = scrub_repr(_guarded_repr(obj))
    if len(text) > limit:
        text = text[:limit] + f"…[{len(text) - limit} more chars]"
    return text
