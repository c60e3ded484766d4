"""The ``openai`` integration: chat completions (incl. ``parse`` and the ``stream``
helper), the Responses API, embeddings and legacy completions, sync and async.

Patched at the public seams: the ``create`` (and ``parse``) methods of the resource
classes. Usage comes from the response, or for streams from the final usage chunk (sent
when the caller asks for ``stream_options={"include_usage": True}``; spanwise never adds
it, so the caller's chunks stay exactly as they were). A stream without usage records
tokens as unknown and is marked ``spanwise.usage.missing``. OpenAI counts cached tokens
inside ``prompt_tokens``, which is the stored convention already.
"""

from __future__ import annotations

from typing import Any

from spanwise.integrations._chat import ChatAccumulator, read_response
from spanwise.integrations._common import (
    Recording,
    as_int,
    async_wrapper,
    client_server,
    field,
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

_CHAT_PARAMS = {
    "max_tokens": GENAI.REQUEST_MAX_TOKENS,
    "max_completion_tokens": GENAI.REQUEST_MAX_TOKENS,
    "temperature": GENAI.REQUEST_TEMPERATURE,
    "top_p": GENAI.REQUEST_TOP_P,
    "frequency_penalty": GENAI.REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": GENAI.REQUEST_PRESENCE_PENALTY,
    "stop": GENAI.REQUEST_STOP_SEQUENCES,
    "seed": GENAI.REQUEST_SEED,
    "n": GENAI.REQUEST_CHOICE_COUNT,
}
_RESPONSES_PARAMS = {
    "max_output_tokens": GENAI.REQUEST_MAX_TOKENS,
    "temperature": GENAI.REQUEST_TEMPERATURE,
    "top_p": GENAI.REQUEST_TOP_P,
}


def _begin(operation: str, params: dict[str, str], prompt_arg: str) -> Any:
    def begin(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Recording:
        provider, attrs = client_server(args[0] if args else None, "openai")
        if params:
            request_attributes(kwargs, params, attrs)
        streamed = kwargs.get("stream") is True
        rec = Recording(provider, operation, model_name(kwargs.get("model")), attrs, streamed)
        if rec.capture:
            rec.call.prompt = snapshot(kwargs.get(prompt_arg))
            if operation == "chat" and prompt_arg == "input":
                rec.call.system = kwargs.get("instructions")
        return rec

    return begin


# -- chat completions and legacy completions ---------------------------------------------


def _chat_usage(rec: Recording, usage: Any) -> None:
    cached = as_int(field(field(usage, "prompt_tokens_details"), "cached_tokens"))
    if cached is None:  # DeepSeek's OpenAI-compatible API names them differently
        cached = as_int(field(usage, "prompt_cache_hit_tokens"))
    rec.set_usage(
        as_int(field(usage, "prompt_tokens")),
        as_int(field(usage, "completion_tokens")),
        cached,
        None,
        as_int(field(field(usage, "completion_tokens_details"), "reasoning_tokens")),
    )


def _complete_chat(rec: Recording, returned: Any) -> Any:
    if isinstance(returned, _STREAM_TYPES):
        return StreamProxy(returned, ChatAccumulator(rec, _chat_usage))
    read_response(rec, parsed_body(returned, _STREAM_TYPES), _chat_usage)
    rec.end()
    return returned


# -- Responses API ---------------------------------------------------------------------------


def _read_response(rec: Recording, response: Any) -> None:
    usage = field(response, "usage")
    if usage is not None:
        rec.set_usage(
            as_int(field(usage, "input_tokens")),
            as_int(field(usage, "output_tokens")),
            as_int(field(field(usage, "input_tokens_details"), "cached_tokens")),
            None,
            as_int(field(field(usage, "output_tokens_details"), "reasoning_tokens")),
        )
    status = field(response, "status")
    reason = field(field(response, "incomplete_details"), "reason")
    finish = reason if isinstance(reason, str) else status if isinstance(status, str) else None
    rec.set_response(field(response, "model"), field(response, "id"), [finish] if finish else None)
    if rec.capture:
        rec.call.response = field(response, "output")


def _complete_responses(rec: Recording, returned: Any) -> Any:
    if isinstance(returned, _STREAM_TYPES):
        return StreamProxy(returned, ResponsesAccumulator(rec))
    _read_response(rec, parsed_body(returned, _STREAM_TYPES))
    rec.end()
    return returned


_FINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


class ResponsesAccumulator(Accumulator):
    """Responses API events: the final ``response.completed`` carries usage."""

    __slots__ = ("final", "started")

    def __init__(self, rec: Recording) -> None:
        super().__init__(rec)
        self.final: Any = None
        self.started: Any = None

    def item(self, event: Any) -> None:
        kind = field(event, "type")
        if not isinstance(kind, str):
            return
        if kind.endswith(".delta"):
            self.rec.first_token()
        elif kind in _FINAL_EVENTS:
            self.final = field(event, "response")
        elif kind == "response.created":
            self.started = field(event, "response")

    def finish(self, complete: bool) -> bool:
        if self.final is not None:
            _read_response(self.rec, self.final)
        elif self.started is not None:
            self.rec.set_response(field(self.started, "model"), field(self.started, "id"))
        return self.final is not None


# -- embeddings --------------------------------------------------------------------------------


def _complete_embeddings(rec: Recording, returned: Any) -> Any:
    result = parsed_body(returned, _STREAM_TYPES)
    usage = field(result, "usage")
    if usage is not None:
        # Embeddings produce no output tokens: 0 is exact here, not "unknown".
        rec.set_usage(as_int(field(usage, "prompt_tokens")), 0)
    rec.set_response(field(result, "model"))
    data = field(result, "data")
    if isinstance(data, list) and data:
        vector = field(data[0], "embedding")
        if isinstance(vector, list):
            rec.span.attributes[GENAI.EMBEDDINGS_DIMENSION] = len(vector)
    rec.end()
    return returned


_CHAT = (_begin("chat", _CHAT_PARAMS, "messages"), _complete_chat)
_TEXT = (_begin("text_completion", _CHAT_PARAMS, "prompt"), _complete_chat)
_RESPONSES = (_begin("chat", _RESPONSES_PARAMS, "input"), _complete_responses)
_EMBEDDINGS = (_begin("embeddings", {}, "input"), _complete_embeddings)


def _import_httpx2_here() -> None:
    """The openai SDK looks up ``sys.modules["httpx2"]`` on every request, and
    genai-prices (imported by spanwise's writer thread to price calls) imports httpx2: a
    request made while that import runs would see a half-initialized module and fail.
    Importing it here, in the program's thread, before any instrumented request, closes
    that window."""
    import importlib

    try:
        importlib.import_module("httpx2")
    except ImportError:
        pass


def instrument() -> Undo:
    """Patch the openai SDK; return the undo. Raises ImportError without ``openai``."""
    global _STREAM_TYPES
    import openai
    from openai.resources import completions, embeddings, responses

    _import_httpx2_here()
    from openai.resources.chat import completions as chat

    _STREAM_TYPES = (openai.Stream, openai.AsyncStream)
    table = [
        (chat.Completions, chat.AsyncCompletions, "create", _CHAT),
        (chat.Completions, chat.AsyncCompletions, "parse", _CHAT),
        (responses.Responses, responses.AsyncResponses, "create", _RESPONSES),
        (responses.Responses, responses.AsyncResponses, "parse", _RESPONSES),
        (embeddings.Embeddings, embeddings.AsyncEmbeddings, "create", _EMBEDDINGS),
        (completions.Completions, completions.AsyncCompletions, "create", _TEXT),
    ]
    undos = []
    for sync_cls, async_cls, name, (begin, complete) in table:
        undos.append(patch(sync_cls, name, sync_wrapper(begin, complete)))
        undos.append(patch(async_cls, name, async_wrapper(begin, complete)))
    return combine(undos)
