"""The ``anthropic`` integration: ``messages.create`` (sync, async, ``stream=True``) and
the ``messages.stream()`` helper.

Anthropic reports ``cache_read_input_tokens`` and ``cache_creation_input_tokens`` *on top
of* ``input_tokens``; they are added in, so stored input tokens include cached ones as
OpenTelemetry says. Streamed usage comes from ``message_start`` (input and cache tokens)
and ``message_delta`` (cumulative output tokens, and any input counts it repeats).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spanwise import _internal
from spanwise._llm_api import llm_call_active, recording_allowed
from spanwise.integrations._common import (
    Recording,
    as_int,
    async_wrapper,
    client_server,
    field,
    inclusive_input,
    model_name,
    parsed_body,
    request_attributes,
    snapshot,
    sync_wrapper,
)
from spanwise.integrations._patch import Undo, combine, patch
from spanwise.integrations._streams import Accumulator, StreamProxy
from spanwise.otel._genai import GENAI

_STREAM_TYPES: tuple[type, ...] = ()

_PARAMS = {
    "max_tokens": GENAI.REQUEST_MAX_TOKENS,
    "temperature": GENAI.REQUEST_TEMPERATURE,
    "top_p": GENAI.REQUEST_TOP_P,
    "top_k": GENAI.REQUEST_TOP_K,
    "stop_sequences": GENAI.REQUEST_STOP_SEQUENCES,
}
# Anthropic models served through other clouds' clients.
_CLIENT_PROVIDERS = {"Bedrock": "aws.bedrock", "Vertex": "gcp.vertex_ai"}


def _provider(instance: Any) -> tuple[str, dict[str, Any]]:
    provider, attrs = client_server(instance, "anthropic")
    client_type = type(getattr(instance, "_client", None)).__name__
    for marker, name in _CLIENT_PROVIDERS.items():
        if marker in client_type:
            provider = name
    return provider, attrs


def _begin(
    args: tuple[Any, ...], kwargs: dict[str, Any], streamed: bool | None = None
) -> Recording:
    provider, attrs = _provider(args[0] if args else None)
    request_attributes(kwargs, _PARAMS, attrs)
    stream = kwargs.get("stream") is True if streamed is None else streamed
    rec = Recording(provider, "chat", model_name(kwargs.get("model")), attrs, stream)
    if rec.capture:
        rec.call.prompt = snapshot(kwargs.get("messages"))
        rec.call.system = snapshot(kwargs.get("system"))
    return rec


def _set_usage(rec: Recording, usage: Any, output: Any) -> None:
    read = as_int(field(usage, "cache_read_input_tokens"))
    write = as_int(field(usage, "cache_creation_input_tokens"))
    rec.set_usage(
        inclusive_input(as_int(field(usage, "input_tokens")), read, write, additive=True),
        as_int(output),
        read,
        write,
    )


def _complete(rec: Recording, returned: Any) -> Any:
    if isinstance(returned, _STREAM_TYPES):
        return StreamProxy(returned, MessagesAccumulator(rec))
    result = parsed_body(returned, _STREAM_TYPES)
    usage = field(result, "usage")
    if usage is not None:
        _set_usage(rec, usage, field(usage, "output_tokens"))
    reason = field(result, "stop_reason")
    rec.set_response(
        field(result, "model"), field(result, "id"), [reason] if isinstance(reason, str) else None
    )
    if rec.capture:
        rec.call.response = [{"role": "assistant", "content": field(result, "content")}]
    rec.end()
    return returned


class MessagesAccumulator(Accumulator):
    """Raw message stream events (also as the ``stream()`` helper yields them)."""

    __slots__ = ("blocks", "delta_usage", "message_id", "model", "reason", "start", "stopped")

    def __init__(self, rec: Recording) -> None:
        super().__init__(rec)
        self.start: Any = None
        self.delta_usage: Any = None
        self.model: Any = None
        self.message_id: Any = None
        self.reason: Any = None
        self.stopped = False
        self.blocks: dict[int, dict[str, Any]] = {}

    def item(self, event: Any) -> None:
        kind = field(event, "type")
        if kind == "content_block_delta":
            self.rec.first_token()
            if self.rec.capture:
                self._capture_delta(field(event, "index") or 0, field(event, "delta"))
        elif kind == "message_start":
            message = field(event, "message")
            self.start = field(message, "usage")
            self.model = field(message, "model")
            self.message_id = field(message, "id")
        elif kind == "message_delta":
            usage = field(event, "usage")
            if usage is not None:
                self.delta_usage = usage
            self.reason = field(field(event, "delta"), "stop_reason") or self.reason
        elif kind == "message_stop":
            self.stopped = True
        elif kind == "content_block_start" and self.rec.capture:
            block = field(event, "content_block")
            entry = {"type": field(block, "type")}
            for key in ("id", "name", "text"):
                value = field(block, key)
                if value:
                    entry[key] = value
            self.blocks[field(event, "index") or 0] = entry

    def _capture_delta(self, index: int, delta: Any) -> None:
        entry = self.blocks.setdefault(index, {"type": "text"})
        for key, target in (("text", "text"), ("partial_json", "input"), ("thinking", "thinking")):
            value = field(delta, key)
            if isinstance(value, str):
                entry[target] = entry.get(target, "") + value

    def finish(self, complete: bool) -> bool:
        rec = self.rec
        start, delta = self.start, self.delta_usage
        if start is not None or delta is not None:
            merged = {}
            for key in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
                later = field(delta, key)
                merged[key] = later if later is not None else field(start, key)
            # message_start's output count is a placeholder; only message_delta's is final.
            _set_usage(rec, merged, field(delta, "output_tokens"))
        rec.set_response(self.model, self.message_id, [self.reason] if self.reason else None)
        if rec.capture:
            rec.call.response = [
                {"role": "assistant", "content": [self.blocks[i] for i in sorted(self.blocks)]}
            ]
        return self.stopped


class MessageStreamProxy(StreamProxy):
    """The ``MessageStream`` of the ``stream()`` helper: its text stream and final-message
    helpers consume the stream through the wrapper, so every event is seen."""

    __slots__ = ("_sw_text",)

    def __init__(self, wrapped: Any, accumulator: Accumulator) -> None:
        super().__init__(wrapped, accumulator)
        self._sw_text: Any = None

    def _sw_is_async(self) -> bool:
        return hasattr(self._sw_wrapped, "__anext__")

    @property
    def text_stream(self) -> Any:
        if self._sw_text is None:
            self._sw_text = self._sw_atext() if self._sw_is_async() else self._sw_stext()
        return self._sw_text

    def _sw_stext(self) -> Any:
        for event in self:
            text = _text_delta(event)
            if text is not None:
                yield text

    async def _sw_atext(self) -> Any:
        async for event in self:
            text = _text_delta(event)
            if text is not None:
                yield text

    def until_done(self) -> Any:
        if self._sw_is_async():
            return self._sw_adone(self._sw_wrapped.until_done)
        for _ in self:
            pass
        return self._sw_wrapped.until_done()

    def get_final_message(self) -> Any:
        if self._sw_is_async():
            return self._sw_adone(self._sw_wrapped.get_final_message)
        self.until_done()
        return self._sw_wrapped.get_final_message()

    def get_final_text(self) -> Any:
        if self._sw_is_async():
            return self._sw_adone(self._sw_wrapped.get_final_text)
        self.until_done()
        return self._sw_wrapped.get_final_text()

    async def _sw_adone(self, then: Callable[[], Any]) -> Any:
        async for _ in self:
            pass
        return await then()


def _text_delta(event: Any) -> str | None:
    if field(event, "type") == "content_block_delta":
        delta = field(event, "delta")
        if field(delta, "type") == "text_delta":
            text = field(delta, "text")
            return text if isinstance(text, str) else None
    return None


class _ManagerProxy:
    """Wraps the manager ``messages.stream()`` returns: the request (and so the recorded
    call) starts when it is entered."""

    __slots__ = ("_sw_args", "_sw_kwargs", "_sw_stream", "_sw_wrapped")

    def __init__(self, wrapped: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._sw_wrapped = wrapped
        self._sw_args = args
        self._sw_kwargs = kwargs
        self._sw_stream: MessageStreamProxy | None = None

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return type(self._sw_wrapped)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_sw_"):
            raise AttributeError(name)
        return getattr(self._sw_wrapped, name)

    def _sw_begin(self) -> Recording | None:
        if not recording_allowed():
            return None
        try:
            return _begin(self._sw_args, self._sw_kwargs, streamed=True)
        except Exception as exc:  # noqa: BLE001
            _internal.report("llm.begin", exc)
            return None

    def _sw_wrap(self, rec: Recording, stream: Any) -> Any:
        self._sw_stream = MessageStreamProxy(stream, MessagesAccumulator(rec))
        return self._sw_stream

    def _sw_close(self) -> None:
        if self._sw_stream is not None:
            self._sw_stream._sw_end(None, False)

    def __enter__(self) -> Any:
        rec = self._sw_begin()
        if rec is None:
            return self._sw_wrapped.__enter__()
        token = llm_call_active.set(True)
        try:
            stream = self._sw_wrapped.__enter__()
        except BaseException as exc:
            llm_call_active.reset(token)
            rec.end(exc)
            raise
        llm_call_active.reset(token)
        return self._sw_wrap(rec, stream)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return self._sw_wrapped.__exit__(exc_type, exc, tb)
        finally:
            self._sw_close()

    async def __aenter__(self) -> Any:
        rec = self._sw_begin()
        if rec is None:
            return await self._sw_wrapped.__aenter__()
        token = llm_call_active.set(True)
        try:
            stream = await self._sw_wrapped.__aenter__()
        except BaseException as exc:
            llm_call_active.reset(token)
            rec.end(exc)
            raise
        llm_call_active.reset(token)
        return self._sw_wrap(rec, stream)

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return await self._sw_wrapped.__aexit__(exc_type, exc, tb)
        finally:
            self._sw_close()


def _stream_helper(original: Callable[..., Any], is_on: Callable[[], bool]) -> Callable[..., Any]:
    def stream(*args: Any, **kwargs: Any) -> Any:
        manager = original(*args, **kwargs)
        if not is_on() or not recording_allowed():
            return manager
        return _ManagerProxy(manager, args, kwargs)

    return stream


def instrument() -> Undo:
    """Patch the anthropic SDK; return the undo. Raises ImportError without ``anthropic``."""
    global _STREAM_TYPES
    import anthropic
    from anthropic.resources.messages import AsyncMessages, Messages

    _STREAM_TYPES = (anthropic.Stream, anthropic.AsyncStream)
    resources: list[tuple[Any, Any]] = [(Messages, AsyncMessages)]
    try:  # client.beta.messages: the same calls, with beta features
        from anthropic.resources.beta.messages import AsyncMessages as AsyncBeta
        from anthropic.resources.beta.messages import Messages as Beta

        resources.append((Beta, AsyncBeta))
    except ImportError:
        pass
    undos = []
    for sync_cls, async_cls in resources:
        undos += [
            patch(sync_cls, "create", sync_wrapper(_begin, _complete)),
            patch(async_cls, "create", async_wrapper(_begin, _complete)),
            patch(sync_cls, "stream", _stream_helper),
            patch(async_cls, "stream", _stream_helper),
        ]
    return combine(undos)
