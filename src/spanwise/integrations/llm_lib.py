"""The ``llm`` library (simonw/llm) and its plugins: every model response becomes an
``llm`` span with provider, model and tokens.

``model.prompt(...)`` returns at once and the model runs only when the response is
consumed (``text()``, ``json()``, ``usage()``, iteration, ``stream_events()``); usage is
known only after that. So the call is timed around the consumption itself, usage is read
once the model has finished, and the response is never consumed a second time by us. A
response that is replayed (already done) records nothing.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from spanwise import _internal
from spanwise._llm_api import (
    GEN_AI_OPERATION,
    GEN_AI_PROVIDER,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_RESPONSE_MODEL,
    emit_llm_span,
    nested_calls_hidden,
)
from spanwise._llm_record import LlmCall, normalize_input_tokens
from spanwise._runtime import RT

_ACTIVE = "_spanwise_recording"  # set on a response while one of our wrappers times it

# Plugin module → provider name (for pricing); other plugins: ``llm_<provider>`` (each
# module's answer is added here when first seen).
_MODULE_PROVIDERS = {
    "llm.default_plugins.openai_models": "openai",
    "llm_claude": "anthropic",
    "llm_claude_3": "anthropic",
    "llm_anthropic": "anthropic",
    "llm_gemini": "google",
    "llm_vertex": "google",
    "llm_bedrock": "aws",
    "llm_bedrock_anthropic": "aws",
}
# Keys plugins use in ``Usage.details`` (OpenAI, Anthropic, Gemini shapes).
_CACHE_READ_KEYS = ("cached_tokens", "cache_read_input_tokens", "cachedContentTokenCount")
_CACHE_WRITE_KEYS = ("cache_creation_input_tokens",)
_REASONING_KEYS = ("reasoning_tokens", "thoughtsTokenCount")

_lock = threading.Lock()
_installed = 0
_originals: list[tuple[type, str, Any]] = []


def instrument() -> Callable[[], None]:
    """Record every ``llm`` response; returns an undo. Instrumenting twice is harmless:
    the library is patched once and restored when the last undo runs."""
    global _installed
    try:
        import llm
    except ImportError as exc:
        raise ImportError(
            "spanwise.instrument('llm') needs the llm library: pip install 'spanwise[llm]'"
        ) from exc
    with _lock:
        if _installed == 0:
            _patch(llm.Response, "__iter__", _wrap_sync_stream)
            _patch(llm.Response, "stream_events", _wrap_sync_stream)
            _patch(llm.AsyncResponse, "__anext__", _wrap_async_next)
            _patch(llm.AsyncResponse, "astream_events", _wrap_async_stream)
        _installed += 1
    done = False

    def undo() -> None:
        global _installed
        nonlocal done
        with _lock:
            if done:
                return
            done = True
            _installed -= 1
            if _installed == 0:
                while _originals:
                    cls, name, original = _originals.pop()
                    setattr(cls, name, original)

    return undo


def _patch(cls: type, name: str, wrap: Callable[[Any], Any]) -> None:
    original = cls.__dict__.get(name)
    if original is None:  # an older llm without this entry point
        return
    _originals.append((cls, name, original))
    setattr(cls, name, wrap(original))


# -- the wrappers ------------------------------------------------------------------------
def _should_time(response: Any) -> bool:
    return (
        RT.emit is not None
        and not getattr(response, "_done", True)
        and not getattr(response, _ACTIVE, False)
    )


def _wrap_sync_stream(original: Callable[[Any], Iterator[Any]]) -> Any:
    def wrapper(self: Any) -> Iterator[Any]:
        if not _should_time(self):
            yield from original(self)
            return
        setattr(self, _ACTIVE, True)
        start = RT.now_ns()
        first: int | None = None
        error: BaseException | None = None
        try:
            chunks = iter(original(self))
            while True:
                # The plugin's own SDK call (e.g. openai) is this call: record it once.
                with nested_calls_hidden():
                    try:
                        chunk = next(chunks)
                    except StopIteration:
                        break
                if first is None:
                    first = RT.now_ns()
                yield chunk
        except GeneratorExit:
            raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            setattr(self, _ACTIVE, False)
            _record(self, start, first, error)

    wrapper.__name__ = getattr(original, "__name__", "wrapper")
    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    return wrapper


def _wrap_async_stream(original: Callable[[Any], AsyncIterator[Any]]) -> Any:
    async def wrapper(self: Any) -> AsyncIterator[Any]:
        if not _should_time(self):
            async for item in original(self):
                yield item
            return
        setattr(self, _ACTIVE, True)
        start = RT.now_ns()
        first: int | None = None
        error: BaseException | None = None
        try:
            items = original(self).__aiter__()
            while True:
                with nested_calls_hidden():
                    try:
                        item = await items.__anext__()
                    except StopAsyncIteration:
                        break
                if first is None:
                    first = RT.now_ns()
                yield item
        except GeneratorExit:
            raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            setattr(self, _ACTIVE, False)
            _record(self, start, first, error)

    wrapper.__name__ = getattr(original, "__name__", "wrapper")
    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    return wrapper


def _wrap_async_next(original: Callable[[Any], Any]) -> Any:
    """``__anext__`` is called once per chunk: the timing starts at the first call and the
    call is recorded when the model's stream ends (or fails)."""

    async def __anext__(self: Any) -> Any:
        timing = self.__dict__.get("_spanwise_timing")
        if timing is None:
            if not _should_time(self):
                return await original(self)
            timing = self._spanwise_timing = [RT.now_ns(), None]
        try:
            with nested_calls_hidden():
                chunk = await original(self)
        except StopAsyncIteration:
            del self._spanwise_timing
            _record(self, timing[0], timing[1], None)
            raise
        except BaseException as exc:
            del self._spanwise_timing
            _record(self, timing[0], timing[1], exc)
            raise
        if timing[1] is None:
            timing[1] = RT.now_ns()
        return chunk

    __anext__.__wrapped__ = original  # type: ignore[attr-defined]
    return __anext__


# -- building the record -----------------------------------------------------------------
def _record(
    response: Any, start_ns: int, first_ns: int | None, error: BaseException | None
) -> None:
    try:
        if RT.emit is None:
            return
        model = response.model
        request_model = str(getattr(model, "model_id", None) or type(model).__name__)
        provider = provider_of(model)
        details = getattr(response, "token_details", None)
        cache_read = _detail(details, _CACHE_READ_KEYS)
        cache_write = _detail(details, _CACHE_WRITE_KEYS)
        response_model = _response_model(response, request_model)
        call = LlmCall(
            provider,
            request_model,
            response_model=response_model,
            input_tokens=normalize_input_tokens(
                provider,
                _count(getattr(response, "input_tokens", None)),
                cache_read,
                cache_write,
                None,
            ),
            output_tokens=_count(getattr(response, "output_tokens", None)),
            cache_read_tokens=cache_read,
            cache_write_tokens=cache_write,
            reasoning_tokens=_detail(details, _REASONING_KEYS),
            time_to_first_token_ms=(first_ns - start_ns) / 1e6 if first_ns is not None else None,
            streamed=bool(getattr(response, "stream", False)),
        )
        if RT.capture_content:
            prompt = getattr(response, "prompt", None)
            call.prompt = getattr(prompt, "prompt", None)
            call.system = getattr(prompt, "system", None)
            call.response = "".join(getattr(response, "_chunks", None) or ()) or None
        attrs: dict[str, Any] = {
            GEN_AI_OPERATION: "chat",
            GEN_AI_PROVIDER: provider,
            GEN_AI_REQUEST_MODEL: request_model,
        }
        if response_model:
            attrs[GEN_AI_RESPONSE_MODEL] = response_model
        emit_llm_span(
            call, f"chat {request_model}", attrs, start_ns=start_ns, end_ns=RT.now_ns(), error=error
        )
    except Exception as exc:  # noqa: BLE001 - recording must never break the caller
        _internal.report("llm_lib.record", exc)


def provider_of(model: Any) -> str:
    """The provider behind an ``llm`` model, from the plugin module that defines it."""
    module = type(model).__module__ or ""
    found = _MODULE_PROVIDERS.get(module)
    if found is None:
        found = _MODULE_PROVIDERS[module] = _provider_of_module(module)
    return found


def _provider_of_module(module: str) -> str:
    top = module.split(".")[0]
    if top in _MODULE_PROVIDERS:
        return _MODULE_PROVIDERS[top]
    if top.startswith("llm_") and len(top) > 4:
        return top[4:]
    return top or "llm"


def _response_model(response: Any, request_model: str) -> str | None:
    resolved = getattr(response, "resolved_model", None)
    if isinstance(resolved, str) and resolved and resolved != request_model:
        return resolved
    raw = getattr(response, "response_json", None)
    if isinstance(raw, dict):
        name = raw.get("model")
        if isinstance(name, str) and name and name != request_model:
            return name
    return None


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _detail(details: Any, keys: tuple[str, ...], depth: int = 0) -> int | None:
    """The first of ``keys`` found in a (nested) usage-details dict."""
    if not isinstance(details, dict) or depth > 3:
        return None
    for key in keys:
        value = _count(details.get(key))
        if value is not None:
            return value
    for value in details.values():
        found = _detail(value, keys, depth + 1)
        if found is not None:
            return found
    return None
