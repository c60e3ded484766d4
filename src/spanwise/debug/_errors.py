"""``spanwise.capture_errors``: an error report with the failing frame's variables.

Used as ``@capture_errors``, ``@capture_errors(state=…)``, ``with capture_errors(…):``
or ``async with``. When an ``Exception`` escapes, the report holds the trace and span
ids, the exception's type and message, every frame of its traceback (file, line,
function, code) with the locals *of that frame* (the capture's own frames are left out),
chained causes and contexts, and a bounded snapshot of ``state`` (a callable, or a file
path whose content is read). Values go through a repr that cannot raise, with caps on
depth, breadth, string length, frame count and total size; secrets are redacted.

The report is attached to the exception as ``__spanwise_report__`` and emitted as an
``error`` record (stored, and written by the pipeline to
``SPANWISE_HOME/sessions/<session>/errors/<trace_id>_error.json``); the exception is
re-raised unchanged. Only trace mode records anything; otherwise the wrappers just call
through.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import sys
import threading
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any, TypeVar

from spanwise import _internal
from spanwise._runtime import RT
from spanwise._span import Span, current

F = TypeVar("F", bound=Callable[..., Any])
StateSource = Callable[[], Any] | str | os.PathLike[str] | None

MAX_REPORT_CHARS = 1_000_000
MAX_MESSAGE = 4096
MAX_CHAIN = 5
MAX_STATE_BYTES = 1_000_000
_NULL = contextlib.nullcontext()


def _check_state(state: Any) -> StateSource:
    if state is None or callable(state) or isinstance(state, (str, os.PathLike)):
        return state  # type: ignore[no-any-return]
    raise ValueError(
        f"capture_errors: state must be a callable or a file path, not {type(state).__name__}"
    )


def _type_name(exc: BaseException) -> str:
    cls = type(exc)
    module = getattr(cls, "__module__", None)
    return cls.__qualname__ if module in (None, "builtins") else f"{module}.{cls.__qualname__}"


def _message(exc: BaseException) -> str:
    from spanwise._redact import redact_text

    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - a __str__ that raises
        text = f"<unprintable {type(exc).__name__}>"
    if len(text) > MAX_MESSAGE:
        text = text[:MAX_MESSAGE] + f"…[{len(text) - MAX_MESSAGE} more chars]"
    return redact_text(text)


def _exception_data(exc: BaseException, walker: Any) -> dict[str, Any]:
    from spanwise.debug._frames import describe_traceback, traceback_frames
    from spanwise.debug._saferepr import apply_hooks

    frames, omitted = describe_traceback(traceback_frames(exc.__traceback__), walker)
    for frame in frames:
        if frame.get("locals"):
            frame["locals"] = apply_hooks(frame["locals"])
    return {
        "error_type": _type_name(exc),
        "error_message": _message(exc),
        "frames": frames,
        "frames_omitted": omitted,
    }


def _chain(exc: BaseException, walker: Any) -> list[dict[str, Any]]:
    """Causes (``raise … from``) and contexts (raised while handling), nearest first."""
    out: list[dict[str, Any]] = []
    seen = {id(exc)}
    cur = exc
    while len(out) < MAX_CHAIN:
        if cur.__cause__ is not None:
            nxt, relation = cur.__cause__, "cause"
        elif cur.__context__ is not None and not cur.__suppress_context__:
            nxt, relation = cur.__context__, "context"
        else:
            break
        if id(nxt) in seen:
            break
        seen.add(id(nxt))
        out.append({"relation": relation, **_exception_data(nxt, walker)})
        cur = nxt
    return out


def state_snapshot(state: StateSource) -> dict[str, Any] | None:
    """The bounded snapshot of ``state``: a callable's result or a file's content."""
    from spanwise._redact import redact_text
    from spanwise.debug._saferepr import safe_repr
    from spanwise.debug._state import snapshot

    if state is None:
        return None
    if callable(state):
        try:
            value = state()
        except Exception as exc:  # noqa: BLE001 - the user's getter failing is data
            return {
                "source": "callable",
                "error": f"state() raised {type(exc).__name__}: {safe_repr(exc, 500)}",
            }
        data, truncated = snapshot(value)
        return {"source": "callable", "value": data, "truncated": truncated}
    path = Path(state)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_STATE_BYTES + 1)
    except OSError as exc:
        return {"source": "file", "path": str(path), "error": f"cannot read: {exc.strerror or exc}"}
    truncated = len(raw) > MAX_STATE_BYTES
    text = raw[:MAX_STATE_BYTES].decode("utf-8", "replace")
    result: dict[str, Any] = {"source": "file", "path": str(path), "size": len(raw)}
    if not truncated:
        import json

        try:
            data, cut = snapshot(json.loads(text))
            result.update(format="json", value=data, truncated=cut)
            return result
        except ValueError:
            pass
    result.update(format="text", value=redact_text(text), truncated=truncated)
    return result


def _where() -> tuple[str, str | None]:
    thread = threading.current_thread().name
    task = None
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None:
        try:
            running = asyncio.current_task()
            task = running.get_name() if running is not None else None
        except RuntimeError:
            pass
    return thread, task


def _ensure_span(name: str) -> tuple[Any, bool]:
    """The current span, or a new ended ``error`` span so the report has a trace."""
    span = current.get()
    if span is not None and span.span_id:
        return span, False
    rt = RT
    s = Span(name, {}, "internal")
    s.trace_id = rt.remote_trace_id or rt.new_trace()
    s.parent_id = rt.remote_parent_id
    s.span_id = rt.new_span()
    s.start_ns = s.end_ns = rt.now_ns()
    return s, True


def build_report(exc: BaseException, state: StateSource = None, span: Any = None) -> dict[str, Any]:
    from datetime import datetime

    from spanwise._ids import format_span_id, format_trace_id
    from spanwise.debug._saferepr import LOCALS_LIMITS, Budget, Walker

    walker = Walker(LOCALS_LIMITS, Budget(MAX_REPORT_CHARS))
    main = _exception_data(exc, walker)
    chain = _chain(exc, walker)
    inner: dict[str, Any] = next((f for f in reversed(main["frames"]) if "file" in f), {})
    now = RT.now_ns()
    thread, task = _where()
    return {
        "error_id": f"{RT.new_span():016x}",
        "trace_id": format_trace_id(span.trace_id) if span is not None else None,
        "span_id": format_span_id(span.span_id) if span is not None else None,
        "span_name": span.name if span is not None else None,
        "session": RT.session,
        "time_ns": now,
        "timestamp": datetime.fromtimestamp(now / 1e9, UTC).isoformat(),
        "pid": os.getpid(),
        "thread": thread,
        "task": task,
        "error_type": main["error_type"],
        "error_message": main["error_message"],
        "function": inner.get("function"),
        "file": inner.get("file"),
        "line": inner.get("line"),
        "frames": main["frames"],
        "frames_omitted": main["frames_omitted"],
        "chain": chain,
        "state_snapshot": state_snapshot(state),
        "truncated": walker.budget.truncated,
        "llm_calls": [],
        "path": None,
    }


def capture_exception(exc: BaseException, state: StateSource = None) -> dict[str, Any] | None:
    """Record an error report for ``exc`` now (trace mode only) and attach it to the
    exception; returns the report. An exception is reported once: the first capture
    (nearest the failure) wins. Never raises."""
    try:
        emit = RT.emit
        if emit is None or RT.mode != "trace":
            return None
        existing = exc.__dict__.get("__spanwise_report__")
        if existing is not None:
            return existing  # type: ignore[no-any-return]
        from spanwise.debug._records import ErrorRecord

        span, created = _ensure_span(f"error {type(exc).__name__}")
        report = build_report(exc, state, span)
        try:
            exc.__spanwise_report__ = report  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - an exception type that refuses attributes
            pass
        if created:
            span._set_error(type(exc), exc)
            emit(span)
        emit(ErrorRecord(report))
        return report
    except Exception as err:  # noqa: BLE001
        _internal.report("capture_errors", err)
        return None


class ErrorCapture:
    """What ``capture_errors(…)`` returns: a decorator and a context manager."""

    def __init__(self, state: StateSource = None, name: str | None = None) -> None:
        self.state = _check_state(state)
        self.name = name
        self._span: Span | None = None

    # -- context manager --------------------------------------------------------------------
    def __enter__(self) -> ErrorCapture:
        self._span = None
        if RT.mode == "trace" and RT.emit is not None:
            parent = current.get()
            if parent is None or not parent.span_id:
                self._span = Span(self.name or "capture_errors", {}, "internal").__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if isinstance(exc, Exception):
            capture_exception(exc, self.state)
        span, self._span = self._span, None
        if span is not None:
            span.__exit__(exc_type, exc, tb)

    async def __aenter__(self) -> ErrorCapture:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)

    # -- decorator --------------------------------------------------------------------------
    def __call__(self, fn: F) -> F:
        if not callable(fn):
            raise ValueError(f"capture_errors decorates a function, not {type(fn).__name__}")
        if inspect.isasyncgenfunction(fn):
            raise ValueError(
                "capture_errors cannot decorate an async generator; use "
                "`async with spanwise.capture_errors():` inside it"
            )
        state = self.state
        label = self.name or getattr(fn, "__qualname__", None) or repr(fn)

        def own_span() -> Any:
            parent = current.get()
            if parent is None or not parent.span_id:
                return Span(label, {}, "internal")
            return _NULL

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def coro_wrapper(*args: Any, **kwargs: Any) -> Any:
                if RT.mode != "trace":
                    return await fn(*args, **kwargs)
                with own_span():
                    try:
                        return await fn(*args, **kwargs)
                    except Exception as exc:
                        capture_exception(exc, state)
                        raise

            return coro_wrapper  # type: ignore[return-value]

        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
                try:
                    return (yield from fn(*args, **kwargs))
                except Exception as exc:
                    capture_exception(exc, state)
                    raise

            return gen_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if RT.mode != "trace":
                return fn(*args, **kwargs)
            with own_span():
                try:
                    return fn(*args, **kwargs)
                except Exception as exc:
                    capture_exception(exc, state)
                    raise

        return wrapper  # type: ignore[return-value]


def capture_errors(fn: Any = None, /, *, state: Any = None, name: str | None = None) -> Any:
    """Capture an error report with the failing frame's variables.

    ``@capture_errors``, ``@capture_errors(state=load_state)``,
    ``@capture_errors(state="state.json")``, ``with capture_errors(state=…):`` or
    ``async with``. ``state`` is a callable or a file path. Without a current span, a
    span named after the function (or ``name``) is opened, so the report has a trace.
    """
    if fn is not None:
        if not callable(fn):
            raise ValueError(
                "capture_errors takes keyword arguments: capture_errors(state=…, name=…)"
            )
        return ErrorCapture(state, name)(fn)
    return ErrorCapture(state, name)
