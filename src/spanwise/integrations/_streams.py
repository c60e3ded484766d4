"""Transparent stream wrappers: the caller iterates the provider's stream as before while
spanwise watches the chunks go by (time to first token, usage from the final chunk).

The wrapper forwards every attribute to the real stream and reports the real stream's
class (``isinstance(stream, openai.Stream)`` still holds). Each chunk is handed to an
accumulator; when the stream ends — exhausted, failed, closed, left by ``with`` or
garbage-collected half-read — the call is recorded once with what is known. A stream
that stopped early is marked ``spanwise.stream.incomplete``; one whose provider sent no
usage keeps tokens unknown (None), never 0.
"""

from __future__ import annotations

import inspect
from typing import Any

from spanwise import _internal
from spanwise.integrations._common import Recording


class Accumulator:
    """Reads chunks of one stream; ``finish`` puts what it learned on the recording."""

    __slots__ = ("rec",)

    def __init__(self, rec: Recording) -> None:
        self.rec = rec

    def item(self, item: Any) -> None:
        raise NotImplementedError

    def finish(self, complete: bool) -> bool:
        """Record what was learned; return whether the stream really reached its end
        (``complete`` says it was exhausted; a provider's end marker may be missing)."""
        raise NotImplementedError


class StreamProxy:
    """Wraps a sync and/or async iterable stream (whichever protocol the caller uses)."""

    __slots__ = ("__weakref__", "_sw_acc", "_sw_ait", "_sw_it", "_sw_wrapped")

    def __init__(self, wrapped: Any, accumulator: Accumulator) -> None:
        self._sw_wrapped = wrapped
        self._sw_acc = accumulator
        self._sw_it: Any = None
        self._sw_ait: Any = None

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return type(self._sw_wrapped)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_sw_"):
            raise AttributeError(name)
        return getattr(self._sw_wrapped, name)

    def __repr__(self) -> str:
        return repr(self._sw_wrapped)

    # -- sync iteration ------------------------------------------------------------------
    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        it = self._sw_it
        if it is None:
            it = self._sw_it = iter(self._sw_wrapped)
        try:
            item = next(it)
        except StopIteration:
            self._sw_end(None, True)
            raise
        except BaseException as exc:
            self._sw_end(exc, False)
            raise
        self._sw_item(item)
        return item

    def __enter__(self) -> Any:
        self._sw_wrapped.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return self._sw_wrapped.__exit__(exc_type, exc, tb)
        finally:
            self._sw_end(None, False)

    # -- async iteration -----------------------------------------------------------------
    def __aiter__(self) -> Any:
        return self

    async def __anext__(self) -> Any:
        it = self._sw_ait
        if it is None:
            it = self._sw_ait = self._sw_wrapped.__aiter__()
        try:
            item = await it.__anext__()
        except StopAsyncIteration:
            self._sw_end(None, True)
            raise
        except BaseException as exc:
            self._sw_end(exc, False)
            raise
        self._sw_item(item)
        return item

    async def __aenter__(self) -> Any:
        await self._sw_wrapped.__aenter__()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return await self._sw_wrapped.__aexit__(exc_type, exc, tb)
        finally:
            self._sw_end(None, False)

    # -- closing -----------------------------------------------------------------------------
    def close(self, *args: Any, **kwargs: Any) -> Any:
        result = self._sw_wrapped.close(*args, **kwargs)
        if inspect.isawaitable(result):
            return self._sw_closing(result)
        self._sw_end(None, False)
        return result

    async def _sw_closing(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        finally:
            self._sw_end(None, False)

    def __del__(self) -> None:
        try:
            acc = self._sw_acc
        except AttributeError:
            return
        if not acc.rec.done:
            self._sw_end(None, False)

    # -- recording -----------------------------------------------------------------------------
    def _sw_item(self, item: Any) -> None:
        acc = self._sw_acc
        try:
            acc.rec.chunk()
            acc.item(item)
        except Exception as exc:  # noqa: BLE001
            _internal.report("llm.stream.chunk", exc)

    def _sw_end(self, error: BaseException | None, complete: bool) -> None:
        acc = self._sw_acc
        rec = acc.rec
        if rec.done:
            return
        try:
            complete = bool(acc.finish(complete)) and complete
        except Exception as exc:  # noqa: BLE001
            _internal.report("llm.stream.finish", exc)
        rec.end(error, incomplete=not complete)
