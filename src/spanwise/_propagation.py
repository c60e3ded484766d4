"""W3C trace context for child processes, and carrying the current span into threads."""

from __future__ import annotations

import contextvars
import functools

from spanwise._ids import format_span_id, format_trace_id
from spanwise._runtime import RT
from spanwise._span import current

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    T = TypeVar("T")

_TRACEPARENT = r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$"


def parse_traceparent(value: str) -> tuple[int, int] | None:
    """(trace_id, parent_span_id) from a W3C ``traceparent``, or None when invalid."""
    import re

    match = re.match(_TRACEPARENT, value.strip().lower())
    if not match or match.group(1) == "ff":
        return None
    trace_id, span_id = int(match.group(2), 16), int(match.group(3), 16)
    if not trace_id or not span_id:
        return None
    return trace_id, span_id


def traceparent() -> str | None:
    """The ``traceparent`` header for the current span, to pass to a child process
    (``TRACEPARENT`` in its environment) or a downstream service."""
    span = current.get()
    if span is not None and span.span_id:
        return f"00-{format_trace_id(span.trace_id)}-{format_span_id(span.span_id)}-01"
    if RT.remote_trace_id:
        return f"00-{format_trace_id(RT.remote_trace_id)}-{format_span_id(RT.remote_parent_id)}-01"
    return None


def with_context(fn: Callable[..., T]) -> Callable[..., T]:
    """Bind ``fn`` to a copy of the current context, so spans it opens in another thread
    or an executor nest under the span that was current here:
    ``pool.submit(spanwise.with_context(work), item)``."""
    ctx = contextvars.copy_context()

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> T:
        return ctx.copy().run(fn, *args, **kwargs)

    return run
