"""The debugging toolkit ("dev mode"): error reports with the failing frame's locals,
instrumented locks with deadlock and lock-order detection, state diffs and session logs.

Everything here records only in trace mode; otherwise the locks are plain locks and the
wrappers call straight through. Importing this package uses the standard library only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spanwise.debug._asynclock import AsyncLock
    from spanwise.debug._filelock import FileLock
    from spanwise.debug._locks import Lock, RLock, instrument_lock
    from spanwise.debug._state import StateTracker

__all__ = [
    "AsyncLock",
    "FileLock",
    "Lock",
    "RLock",
    "capture_errors",
    "capture_exception",
    "instrument_lock",
    "track_state",
]


# Every module here loads on first use (the locks, the error and state modules and the
# safe repr under them), so ``import spanwise`` and ``configure()`` stay light.
_LAZY = {
    "AsyncLock": "spanwise.debug._asynclock",
    "FileLock": "spanwise.debug._filelock",
    "Lock": "spanwise.debug._locks",
    "RLock": "spanwise.debug._locks",
    "instrument_lock": "spanwise.debug._locks",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'spanwise.debug' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def capture_errors(fn: Any = None, /, *, state: Any = None, name: str | None = None) -> Any:
    """Capture an error report with the failing frame's variables: ``@capture_errors``,
    ``@capture_errors(state=load_state)``, ``@capture_errors(state="state.json")``,
    ``with capture_errors(state=…):`` or ``async with``. See ``spanwise.debug._errors``."""
    from spanwise.debug._errors import capture_errors as impl

    return impl(fn, state=state, name=name)


def capture_exception(exc: BaseException, state: Any = None) -> dict[str, Any] | None:
    """Record an error report for ``exc`` now (trace mode only); returns the report."""
    from spanwise.debug._errors import capture_exception as impl

    return impl(exc, state)


def track_state(label: str, get_state: Callable[[], Any]) -> StateTracker:
    """``with spanwise.track_state("session", get_state):`` records bounded before/after
    snapshots of ``get_state()`` and the change between them as a JSON Patch."""
    from spanwise.debug._state import StateTracker

    return StateTracker(label, get_state)
