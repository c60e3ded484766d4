"""``spanwise.track_state(label, get_state)``: what a block of code changed in the state.

On entry and on exit (also when the block raises) ``get_state()`` is called and its
result becomes a bounded, redacted JSON snapshot (values that are not JSON become their
repr); the change between the two is recorded as an RFC 6902 JSON Patch naming exactly
the paths that changed. A ``get_state`` that raises is noted in the snapshot, never
raised into the program. Off unless spanwise is in trace mode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spanwise import _internal
from spanwise._runtime import RT
from spanwise._span import current
from spanwise.debug._saferepr import STATE_LIMITS, Limits, Walker, apply_hooks, safe_repr


def snapshot(value: Any, limits: Limits = STATE_LIMITS) -> tuple[Any, bool]:
    """(bounded redacted JSON form of ``value``, whether a cap cut something)."""
    walker = Walker(limits)
    data = apply_hooks(walker.value(value))
    return data, walker.budget.truncated


class StateTracker:
    """The context manager returned by ``track_state``; after the block, ``patch`` holds
    the JSON Patch that was recorded (None when nothing was recorded)."""

    def __init__(self, label: str, get_state: Callable[[], Any]) -> None:
        if not callable(get_state):
            raise ValueError(
                f"track_state: get_state must be a callable returning the state, "
                f"not {type(get_state).__name__}"
            )
        self.label = str(label)
        self.get_state = get_state
        self.patch: list[dict[str, Any]] | None = None
        self._active = False
        self._before: Any = None
        self._truncated = False
        self._span: Any = None
        self._start = 0

    def _snapshot(self) -> tuple[Any, bool]:
        try:
            value = self.get_state()
        except Exception as exc:  # noqa: BLE001 - the user's getter failing is data
            error = f"get_state raised {type(exc).__name__}: {safe_repr(exc, 500)}"
            return {"__error__": error}, False
        return snapshot(value)

    def __enter__(self) -> StateTracker:
        self._active = False
        if RT.emit is None or RT.mode != "trace":
            return self
        try:
            self._span = current.get()
            self._start = RT.perf()
            self._before, self._truncated = self._snapshot()
            self._active = True
        except Exception as exc:  # noqa: BLE001
            _internal.report("track_state.enter", exc)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if not self._active:
            return
        self._active = False
        try:
            self._record(exc_type)
        except Exception as err:  # noqa: BLE001
            _internal.report("track_state.exit", err)

    async def __aenter__(self) -> StateTracker:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)

    def _record(self, exc_type: Any) -> None:
        from spanwise.debug._jsonpatch import make_patch
        from spanwise.debug._records import StateDiff, span_ids

        rt = RT
        after, truncated = self._snapshot()
        end = rt.perf()
        self.patch = make_patch(self._before, after)
        emit = rt.emit
        if emit is None or rt.mode != "trace":
            return
        trace_id, span_id = span_ids(self._span)
        emit(
            StateDiff(
                label=self.label,
                trace_id=trace_id,
                span_id=span_id,
                time_ns=end + rt.offset,
                duration_ns=end - self._start,
                before=self._before,
                after=after,
                patch=self.patch,
                truncated=truncated or self._truncated,
                status="error" if exc_type is not None else "ok",
                error_type=getattr(exc_type, "__qualname__", None),
            )
        )


def track_state(label: str, get_state: Callable[[], Any]) -> StateTracker:
    """``with spanwise.track_state("session", get_state):`` records bounded before/after
    snapshots of ``get_state()`` and the change between them as a JSON Patch."""
    return StateTracker(label, get_state)
