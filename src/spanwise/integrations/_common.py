"""What every LLM integration shares: one in-flight call (``Recording``), the sync and
async wrappers that time a call and never change what the caller sees, and the rule
that an LLM call made *inside* another recorded one (litellm → openai, llm → openai) is
not recorded twice.

Integrations describe a call with two functions: ``begin(args, kwargs) -> Recording``
(read the request) and ``complete(rec, result) -> result`` (read the response, or wrap a
stream and return the wrapper). Everything they do runs guarded: an internal error is
reported through ``spanwise._internal`` and the call proceeds untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spanwise import _internal
from spanwise._llm_api import llm_call_active
from spanwise._llm_record import LlmCall
from spanwise._runtime import RT
from spanwise._span import Span, _price_tables_needed, prepare_prices, settle
from spanwise.integrations._patch import WrapperFactory
from spanwise.otel._genai import GENAI

Begin = Callable[[tuple[Any, ...], dict[str, Any]], "Recording | None"]
Complete = Callable[["Recording", Any], Any]


class Recording:
    """One LLM call in flight: an ``llm`` span whose parent is the span current when the
    call started (also when a stream is consumed elsewhere), and its typed record."""

    __slots__ = ("call", "capture", "done", "first_chunk_ns", "first_ns", "span")

    def __init__(
        self,
        provider: str,
        operation: str,
        model: str,
        attributes: dict[str, Any],
        streamed: bool = False,
    ) -> None:
        rt = RT
        attributes[GENAI.OPERATION] = operation
        attributes[GENAI.PROVIDER] = provider
        attributes[GENAI.REQUEST_MODEL] = model
        if streamed:
            attributes[GENAI.REQUEST_STREAM] = True
        s = Span(f"{operation} {model}", attributes, "llm")
        s._link()
        self.call = s.llm = LlmCall(provider, model, operation=operation, streamed=streamed)
        self.span = s
        self.first_ns = 0  # first chunk that carried output
        self.first_chunk_ns = 0  # first chunk of any kind
        self.done = False
        self.capture = rt.capture_content
        s.start_ns = rt.now_ns()

    def first_token(self) -> None:
        if not self.first_ns:
            self.first_ns = RT.now_ns()

    def chunk(self) -> None:
        if not self.first_chunk_ns:
            self.first_chunk_ns = RT.now_ns()

    def set_usage(
        self,
        input_tokens: int | None,
        output_tokens: int | None,
        cache_read: int | None = None,
        cache_write: int | None = None,
        reasoning: int | None = None,
    ) -> None:
        """Tokens in the stored convention: input inclusive of cached tokens."""
        call = self.call
        call.input_tokens = input_tokens
        call.output_tokens = output_tokens
        call.cache_read_tokens = cache_read
        call.cache_write_tokens = cache_write
        call.reasoning_tokens = reasoning

    def set_response(
        self, model: Any, response_id: Any = None, finish_reasons: list[str] | None = None
    ) -> None:
        attrs = self.span.attributes
        if isinstance(model, str) and model:
            self.call.response_model = model
            attrs[GENAI.RESPONSE_MODEL] = model
        if isinstance(response_id, str) and response_id:
            attrs[GENAI.RESPONSE_ID] = response_id
        if finish_reasons:
            self.call.finish_reasons = finish_reasons
            attrs[GENAI.FINISH_REASONS] = finish_reasons

    def end(self, error: BaseException | None = None, incomplete: bool = False) -> None:
        """End the span (once) and emit it. Never raises."""
        if self.done:
            return
        self.done = True
        try:
            rt = RT
            s = self.span
            s.end_ns = rt.now_ns()
            call = self.call
            attrs = s.attributes
            first = self.first_ns or self.first_chunk_ns
            if first:
                call.time_to_first_token_ms = (first - s.start_ns) / 1e6
                attrs[GENAI.TIME_TO_FIRST_CHUNK] = (first - s.start_ns) / 1e9
            for key, value in (
                (GENAI.INPUT_TOKENS, call.input_tokens),
                (GENAI.OUTPUT_TOKENS, call.output_tokens),
                (GENAI.CACHE_READ_TOKENS, call.cache_read_tokens),
                (GENAI.CACHE_CREATION_TOKENS, call.cache_write_tokens),
                (GENAI.REASONING_TOKENS, call.reasoning_tokens),
            ):
                if value is not None:
                    attrs[key] = value
            if call.input_tokens is None and call.output_tokens is None and error is None:
                attrs[GENAI.USAGE_MISSING] = True
            if incomplete:
                attrs[GENAI.STREAM_INCOMPLETE] = True
            if error is not None:
                s._set_error(type(error), error)
                attrs[GENAI.ERROR_TYPE] = type(error).__qualname__
                status = getattr(error, "status_code", None)
                if isinstance(status, int):
                    attrs["http.response.status_code"] = status
            emit = rt.emit
            if emit is not None:
                if _price_tables_needed[0]:
                    prepare_prices(call)
                settle(s)
                emit(s)
        except Exception as exc:  # noqa: BLE001
            _internal.report("llm.end", exc)


def sync_wrapper(begin: Begin, complete: Complete) -> WrapperFactory:
    """A wrapper factory for a synchronous call (method or function)."""

    def factory(original: Callable[..., Any], is_on: Callable[[], bool]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if RT.emit is None or llm_call_active.get() or not is_on():
                return original(*args, **kwargs)
            rec = _begin(begin, args, kwargs)
            if rec is None:
                return original(*args, **kwargs)
            token = llm_call_active.set(True)
            try:
                result = original(*args, **kwargs)
            except BaseException as exc:
                llm_call_active.reset(token)
                rec.end(exc)
                raise
            llm_call_active.reset(token)
            return _complete(complete, rec, result)

        return wrapper

    return factory


def async_wrapper(begin: Begin, complete: Complete) -> WrapperFactory:
    """A wrapper factory for a coroutine function."""

    def factory(original: Callable[..., Any], is_on: Callable[[], bool]) -> Callable[..., Any]:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            if RT.emit is None or llm_call_active.get() or not is_on():
                return await original(*args, **kwargs)
            rec = _begin(begin, args, kwargs)
            if rec is None:
                return await original(*args, **kwargs)
            token = llm_call_active.set(True)
            try:
                result = await original(*args, **kwargs)
            except BaseException as exc:
                llm_call_active.reset(token)
                rec.end(exc)
                raise
            llm_call_active.reset(token)
            return _complete(complete, rec, result)

        return wrapper

    return factory


def _begin(begin: Begin, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Recording | None:
    try:
        return begin(args, kwargs)
    except Exception as exc:  # noqa: BLE001
        _internal.report("llm.begin", exc)
        return None


def _complete(complete: Complete, rec: Recording, result: Any) -> Any:
    try:
        return complete(rec, result)
    except Exception as exc:  # noqa: BLE001
        _internal.report("llm.complete", exc)
        rec.end()
        return result


# -- reading requests -------------------------------------------------------------------------

_PRIMITIVES = (str, int, float, bool)


def request_attributes(
    kwargs: dict[str, Any], names: dict[str, str], attrs: dict[str, Any] | None = None
) -> dict[str, Any]:
    """GenAI request attributes from the call's keyword arguments (primitives only), added
    to ``attrs`` (a new dict when None); ``names`` maps argument names to attribute names."""
    if attrs is None:
        attrs = {}
    for arg, value in kwargs.items():
        key = names.get(arg)
        if key is None or value is None:
            continue
        if isinstance(value, _PRIMITIVES):
            attrs[key] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            attrs[key] = list(value)
    return attrs


def model_name(value: Any) -> str:
    return value if isinstance(value, str) and value else "unknown"


def snapshot(value: Any) -> Any:
    """A copy of a request list as it was at call time (callers append to theirs later).
    Conversion to JSON happens later, on the writer thread."""
    if isinstance(value, list):
        return list(value)
    if isinstance(value, tuple):
        return list(value)
    return value


# Hosts of OpenAI-compatible APIs → provider names (OpenTelemetry GenAI v1.41 values).
_HOST_PROVIDERS = (
    ("openai.azure.com", "azure.ai.openai"),
    ("api.deepseek.com", "deepseek"),
    ("api.groq.com", "groq"),
    ("api.mistral.ai", "mistral_ai"),
    ("api.x.ai", "x_ai"),
    ("api.perplexity.ai", "perplexity"),
    ("openrouter.ai", "openrouter"),
    ("generativelanguage.googleapis.com", "gcp.gemini"),
    ("api.together.xyz", "together_ai"),
    ("api.fireworks.ai", "fireworks_ai"),
)
_url_cache: dict[str, tuple[str | None, str | None, int | None]] = {}


def server_of(base_url: Any) -> tuple[str | None, str | None, int | None]:
    """(provider or None, host, port) of a client's base URL; cached per URL."""
    key = str(base_url)
    found = _url_cache.get(key)
    if found is not None:
        return found
    from urllib.parse import urlsplit

    provider = None
    host = port = None
    try:
        parts = urlsplit(key)
        host = parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80 if parts.scheme else None)
    except ValueError:
        pass
    for suffix, name in _HOST_PROVIDERS:
        if host and host.endswith(suffix):
            provider = name
            break
    found = (provider, host, port)
    if len(_url_cache) < 256:
        _url_cache[key] = found
    return found


_client_cache: dict[int, tuple[Any, str | None, dict[str, Any]]] = {}


def client_server(instance: Any, default_provider: str) -> tuple[str, dict[str, Any]]:
    """Provider and ``server.*`` attributes for an SDK resource (its client's base URL);
    cached per base URL object."""
    client = getattr(instance, "_client", None)
    base_url = getattr(client, "base_url", None)
    if base_url is None:
        return default_provider, {}
    cached = _client_cache.get(id(base_url))
    if cached is None or cached[0] is not base_url:
        found, host, port = server_of(base_url)
        attrs: dict[str, Any] = {}
        if host:
            attrs[GENAI.SERVER_ADDRESS] = host
            if port:
                attrs[GENAI.SERVER_PORT] = port
        if len(_client_cache) > 256:
            _client_cache.clear()
        cached = _client_cache[id(base_url)] = (base_url, found, attrs)
    return cached[1] or default_provider, dict(cached[2])


def field(obj: Any, name: str) -> Any:
    """``obj.name`` or ``obj[name]``; None when absent (responses may lack any field)."""
    if obj.__class__ is dict or isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def as_int(value: Any) -> int | None:
    """A token count from a response field: a non-negative int, else unknown (None)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def inclusive_input(
    input_tokens: int | None, cache_read: int | None, cache_write: int | None, additive: bool
) -> int | None:
    """Input tokens in the stored convention (cached tokens included)."""
    if input_tokens is None:
        return None
    if additive:
        return input_tokens + (cache_read or 0) + (cache_write or 0)
    return input_tokens


def parsed_body(result: Any, streams: tuple[type, ...]) -> Any:
    """The response object behind ``client.….with_raw_response.create(...)``: the SDKs
    mark such requests ``X-Stainless-Raw-Response: raw`` (``true`` in older code paths)
    and read their body at once, and
    ``parse()`` caches what it returns, so the caller's own ``parse()`` gets the same
    object. ``with_streaming_response`` ("stream": the body is the caller's to read) and
    anything else are left as they are; so is a body that does not parse (the caller's
    ``parse()`` raises it) and a streamed call's stream: the call then has no usage."""
    if type(result).__name__ not in ("LegacyAPIResponse", "APIResponse"):
        return result
    try:
        if result.http_request.headers.get("X-Stainless-Raw-Response") not in ("raw", "true"):
            return None
        parsed = result.parse()
    except Exception:  # noqa: BLE001 - the caller's parse() will raise it to them
        return None
    return None if isinstance(parsed, streams) else parsed
