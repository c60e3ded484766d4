"""The span engine: one ContextVar for the current span, slotted span objects that are
their own context managers, decorators for functions, coroutines and generators."""

from __future__ import annotations

import functools
from contextvars import Token

from spanwise import _internal
from spanwise._runtime import RT
from spanwise._span_core import PySpanCore, link
from spanwise._span_core import current as current
from spanwise._speedups import CSPAN

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, overload

    F = TypeVar("F", bound=Callable[..., Any])

MAX_EVENTS = 128
MAX_ERROR_MESSAGE = 4096


class _Extras:
    """The rarely-set parts of a span, allocated only when one is set."""

    __slots__ = ("error_message", "error_type", "events", "llm", "status")

    def __init__(self) -> None:
        self.status = "ok"
        self.error_type: str | None = None
        self.error_message: str | None = None
        self.events: list[tuple[str, int, dict[str, Any]]] | None = None
        self.llm: Any = None


# Until genai-prices is imported, each LLM call that reports usage asks whether its model
# needs it (``_pricing.prepare_for``); afterwards nobody asks.
_price_tables_needed = [True]


def prepare_prices(call: Any) -> None:
    """In the program's thread, once ``call`` has its usage (a call without usage is never
    priced): load the price tables now if the writer will need them for its model."""
    if _price_tables_needed[0] and call.input_tokens is not None and call.output_tokens is not None:
        # Not ``from spanwise import _pricing``: from a package, that form runs importlib's
        # Python-level fromlist handling at every call.
        import spanwise._pricing as _pricing

        _pricing.prepare_for(call)
        _price_tables_needed[0] = not _pricing._IMPORTED


def _keep_tracked(span: Any) -> None:
    return None


# ``settle(span)``: an ended LLM-call span is about to wait in the queue (see
# ``_cspan.untrack_payload``); without the C module its side objects stay tracked.
settle: Callable[[Any], None] = _keep_tracked if CSPAN is None else CSPAN.untrack_payload

if TYPE_CHECKING or CSPAN is None:
    _SpanCore = PySpanCore
else:
    _SpanCore = CSPAN.SpanCore
    CSPAN.bind(RT, current)


class Span(_SpanCore):
    """One timed operation. Used as ``with spanwise.span("name", key=value) as s:``.

    Hot-path layout: only the fields every span needs are slots (in ``_SpanCore``, C when
    built); status, errors, events and the LLM-call payload live in ``_x`` (None for a
    plain successful span).
    """

    __slots__ = ()
    record_type = "span"

    if TYPE_CHECKING:

        def __enter__(self) -> Span: ...

    # -- rarely-set fields ---------------------------------------------------------------
    def _extras(self) -> _Extras:
        x = self._x
        if x is None:
            x = self._x = _Extras()
        return x

    @property
    def status(self) -> str:
        x = self._x
        return "ok" if x is None else x.status

    @property
    def error_type(self) -> str | None:
        x = self._x
        return None if x is None else x.error_type

    @property
    def error_message(self) -> str | None:
        x = self._x
        return None if x is None else x.error_message

    @property
    def events(self) -> list[tuple[str, int, dict[str, Any]]] | None:
        x = self._x
        return None if x is None else x.events

    @property
    def llm(self) -> Any:
        x = self._x
        return None if x is None else x.llm

    @llm.setter
    def llm(self, call: Any) -> None:
        self._extras().llm = call
        if _price_tables_needed[0]:
            prepare_prices(call)

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)

    def _link(self) -> None:
        """Take ids from the current span (or start a trace) without becoming current."""
        link(self)

    def _start(self) -> None:
        """Begin timing without making this span current (used by generator wrappers)."""
        self._link()
        self.start_ns = RT.now_ns()

    def _finish(self, exc_type: Any, exc: Any) -> None:
        rt = RT
        self.end_ns = rt.now_ns()
        if exc_type is not None and exc_type is not GeneratorExit:
            self._set_error(exc_type, exc)
        emit = rt.emit
        if emit is not None:
            emit(self)

    # -- decorator ------------------------------------------------------------------------
    def __call__(self, fn: F) -> F:
        return decorate(fn, self.name, self.attributes, self.kind)

    # -- recording API --------------------------------------------------------------------
    def set_attribute(self, key: str, value: Any) -> None:
        self.attributes[key] = value

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        self.attributes.update(attributes)

    def add_event(self, name: str, **attributes: Any) -> None:
        if not self.span_id:
            return
        x = self._extras()
        events = x.events
        if events is None:
            events = x.events = []
        if len(events) < MAX_EVENTS:
            events.append((name, RT.now_ns(), attributes))

    def set_status(self, status: str, message: str | None = None) -> None:
        if status not in ("ok", "error"):
            raise ValueError(f"status must be 'ok' or 'error', not {status!r}")
        x = self._extras()
        x.status = status
        if message is not None:
            x.error_message = message[:MAX_ERROR_MESSAGE]

    def record_exception(self, exc: BaseException) -> None:
        self._set_error(type(exc), exc)

    def _set_error(self, exc_type: type[BaseException], exc: BaseException | None) -> None:
        try:
            x = self._extras()
            x.status = "error"
            x.error_type = exc_type.__qualname__
            x.error_message = _safe_str(exc)[:MAX_ERROR_MESSAGE]
        except Exception as err:  # noqa: BLE001
            _internal.report("span.error", err)

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    @property
    def is_recording(self) -> bool:
        return self.span_id != 0 and self.end_ns == 0

    def __repr__(self) -> str:
        return f"<Span {self.name!r} {self.span_id:016x} {self.status}>"


def _safe_str(exc: BaseException | None) -> str:
    if exc is None:
        return ""
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - a __str__ that raises must not break recording
        return f"<unprintable {type(exc).__name__}>"


if not TYPE_CHECKING:

    def overload(fn: Any) -> Any:  # typing.overload without importing typing
        return fn


@overload
def span(name: F, /) -> F: ...


@overload
def span(  # noqa: F811
    name: str | None = None, /, *, kind: str = "internal", **attributes: Any
) -> Span: ...


def span(name: Any = None, /, *, kind: str = "internal", **attributes: Any) -> Any:  # noqa: F811
    """A span: ``with span("name", k=v):``, ``@span`` or ``@span("name", k=v)``."""
    if name.__class__ is str:
        return Span(name, attributes, kind)
    if callable(name):
        return decorate(name, _qualname(name), {}, kind)
    return Span(name or "span", attributes, kind)


def _qualname(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def decorate(fn: F, name: str | None, attributes: dict[str, Any], kind: str) -> F:
    """Wrap ``fn`` so every call runs in a fresh span; async and generator bodies are
    timed over their real execution, not just creation."""
    import inspect

    span_name = name or _qualname(fn)
    attrs = attributes

    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
            if RT.emit is None:
                async for item in fn(*args, **kwargs):
                    yield item
                return
            s = Span(span_name, dict(attrs), kind)
            s._start()
            agen = fn(*args, **kwargs)
            to_send: Any = None
            to_throw: BaseException | None = None
            try:
                while True:
                    token = current.set(s)
                    try:
                        if to_throw is not None:
                            err, to_throw = to_throw, None
                            item = await agen.athrow(err)
                        else:
                            item = await agen.asend(to_send)
                    except StopAsyncIteration:
                        break
                    finally:
                        _reset(token)
                    try:
                        to_send = yield item
                    except GeneratorExit:
                        await agen.aclose()
                        raise
                    except BaseException as err:  # noqa: BLE001 - forwarded into the body
                        to_throw = err
            except BaseException as err:
                s._finish(type(err), err)
                raise
            s._finish(None, None)

        return agen_wrapper  # type: ignore[return-value]

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def coro_wrapper(*args: Any, **kwargs: Any) -> Any:
            if RT.emit is None:
                return await fn(*args, **kwargs)
            with Span(span_name, dict(attrs), kind):
                return await fn(*args, **kwargs)

        return coro_wrapper  # type: ignore[return-value]

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            if RT.emit is None:
                return (yield from fn(*args, **kwargs))
            s = Span(span_name, dict(attrs), kind)
            s._start()
            gen = fn(*args, **kwargs)
            to_send: Any = None
            to_throw: BaseException | None = None
            try:
                while True:
                    # The span is current only while the body runs, never between yields.
                    token = current.set(s)
                    try:
                        if to_throw is not None:
                            err, to_throw = to_throw, None
                            item = gen.throw(err)
                        else:
                            item = gen.send(to_send)
                    except StopIteration as stop:
                        result = stop.value
                        break
                    finally:
                        _reset(token)
                    try:
                        to_send = yield item
                    except GeneratorExit:
                        gen.close()
                        raise
                    except BaseException as err:  # noqa: BLE001 - forwarded into the body
                        to_throw = err
            except BaseException as err:
                s._finish(type(err), err)
                raise
            s._finish(None, None)
            return result

        return gen_wrapper  # type: ignore[return-value]

    from spanwise._fastwrap import exact_wrapper

    fast = exact_wrapper(fn, span_name, attrs, kind, Span)
    if fast is not None:
        return functools.update_wrapper(fast, fn)  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if RT.emit is None:
            return fn(*args, **kwargs)
        with Span(span_name, attrs.copy(), kind):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _reset(token: Token[Span | None]) -> None:
    try:
        current.reset(token)
    except ValueError:
        current.set(None)


def current_span() -> Span | None:
    """The innermost recording span of this context, if any."""
    return current.get()
