"""Internal error accounting: spanwise never raises into the host program.

Every swallowed error is counted and logged once per call site; tests install a hook
(see ``spanwise.testing``) that turns any swallowed error into a test failure.
"""

from __future__ import annotations

import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


_lock = threading.Lock()
_counts: dict[str, int] = {}
_hooks: list[Callable[[str, BaseException], None]] = []


def report(where: str, exc: BaseException) -> None:
    """Record an internal error caught at ``where``. Never raises."""
    try:
        with _lock:
            first = where not in _counts
            _counts[where] = _counts.get(where, 0) + 1
        if first:
            import logging

            logging.getLogger("spanwise").warning("spanwise internal error in %s: %r", where, exc)
        for hook in list(_hooks):
            hook(where, exc)
    except Exception:  # noqa: BLE001 - the reporter itself must never raise
        pass


def counts() -> dict[str, int]:
    with _lock:
        return dict(_counts)


def add_hook(hook: Callable[[str, BaseException], None]) -> Callable[[], None]:
    _hooks.append(hook)
    return lambda: _hooks.remove(hook) if hook in _hooks else None
