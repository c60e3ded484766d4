"""The span's hot path in Python: its fields and context-manager methods, and the
ContextVar of the current span. ``spanwise._cspan.SpanCore`` is the same in C and is used
instead when built (see ``_speedups``); ``spanwise._span.Span`` adds everything else."""

from __future__ import annotations

from contextvars import ContextVar, Token

from spanwise._runtime import RT

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from spanwise._span import Span, _Extras

current: ContextVar[Span | None] = ContextVar("spanwise.current_span", default=None)


class PySpanCore:
    __slots__ = (
        "_token",
        "_x",
        "attributes",
        "end_ns",
        "kind",
        "name",
        "parent_id",
        "span_id",
        "start_ns",
        "trace_id",
    )

    def __init__(self, name: str, attributes: dict[str, Any], kind: str = "internal") -> None:
        self.name = name
        self.attributes = attributes
        self.kind = kind
        self._token: Token[Span | None] | None = None
        self._x: _Extras | None = None
        self.span_id = 0
        self.end_ns = 0
        self.trace_id: int
        self.parent_id: int
        self.start_ns: int

    def __enter__(self) -> Any:
        rt = RT
        if rt.emit is None:
            return self
        link(self)
        self._token = current.set(self)  # type: ignore[arg-type]
        self.start_ns = rt.perf() + rt.offset
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        token = self._token
        if token is None:
            return
        rt = RT
        self.end_ns = rt.perf() + rt.offset
        self._token = None
        try:
            current.reset(token)
        except ValueError:
            # Exited in another context (e.g. a generator resumed elsewhere): restore by hand.
            current.set(None)
        if exc_type is not None:
            self._set_error(exc_type, exc)  # type: ignore[attr-defined]
        queue = rt.queue
        if queue is not None:
            # Trace mode: straight into the writer's bounded queue, no function call.
            if len(queue) < rt.cap:
                queue.append(self)
            else:
                rt.on_full(self)
            return
        emit = rt.emit
        if emit is not None:
            emit(self)


def link(span: Any) -> None:
    """Give ``span`` its ids: from the current span, or a new (or remote) trace."""
    rt = RT
    parent = current.get()
    if parent is None:
        span.trace_id = rt.remote_trace_id or rt.new_trace()
        span.parent_id = rt.remote_parent_id
    else:
        span.trace_id = parent.trace_id
        span.parent_id = parent.span_id
    span.span_id = rt.new_span()
