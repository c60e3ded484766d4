"""The ``litellm`` integration: ``litellm.completion`` and ``litellm.acompletion``,
streaming included.

The provider is the one litellm routes to (``deepseek/deepseek-chat`` → ``deepseek``),
in OpenTelemetry's names. litellm reports ``prompt_tokens`` inclusive of cached tokens
for every provider (it adds Anthropic's cache reads and writes in), with cache reads in
``prompt_tokens_details.cached_tokens`` and writes in ``cache_creation_input_tokens``.
The OpenAI or Anthropic SDK calls litellm makes underneath are not recorded a second
time. Note: when a provider streams no usage but the caller asked for it, litellm
estimates the counts itself; spanwise records what litellm reports.

The module attributes are patched, so call ``litellm.completion(...)``; a
``from litellm import completion`` made before instrumenting keeps the original.
"""

from __future__ import annotations

from typing import Any

from spanwise.integrations._chat import ChatAccumulator, read_response
from spanwise.integrations._common import (
    Recording,
    as_int,
    async_wrapper,
    field,
    model_name,
    request_attributes,
    server_of,
    snapshot,
    sync_wrapper,
)
from spanwise.integrations._patch import Undo, combine, patch
from spanwise.integrations._streams import StreamProxy
from spanwise.otel._genai import GENAI

_STREAM_TYPES: tuple[type, ...] = ()
_get_provider: Any = None

_PARAMS = {
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
# litellm's provider names → OpenTelemetry GenAI v1.41 names (others are kept as they are).
_PROVIDER_NAMES = {
    "mistral": "mistral_ai",
    "gemini": "gcp.gemini",
    "vertex_ai": "gcp.vertex_ai",
    "vertex_ai_beta": "gcp.vertex_ai",
    "bedrock": "aws.bedrock",
    "bedrock_converse": "aws.bedrock",
    "azure": "azure.ai.openai",
    "azure_ai": "azure.ai.inference",
    "xai": "x_ai",
    "cohere_chat": "cohere",
    "watsonx": "ibm.watsonx.ai",
}
_provider_cache: dict[tuple[str, Any], str] = {}


def _provider(model: str, custom: Any) -> str:
    key = (model, custom)
    found = _provider_cache.get(key)
    if found is not None:
        return found
    name = None
    try:
        name = _get_provider(model=model, custom_llm_provider=custom)[1]
    except Exception:  # noqa: BLE001 - litellm raises for models it cannot route
        name = custom if isinstance(custom, str) else None
    if not isinstance(name, str) or not name:
        name = model.split("/", 1)[0] if "/" in model else "litellm"
    found = _PROVIDER_NAMES.get(name, name)
    if len(_provider_cache) < 1024:
        _provider_cache[key] = found
    return found


def _begin(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Recording:
    model = model_name(kwargs.get("model", args[0] if args else None))
    attrs = request_attributes(kwargs, _PARAMS)
    api_base = kwargs.get("api_base") or kwargs.get("base_url")
    if isinstance(api_base, str):
        _, host, port = server_of(api_base)
        if host:
            attrs[GENAI.SERVER_ADDRESS] = host
            if port:
                attrs[GENAI.SERVER_PORT] = port
    provider = _provider(model, kwargs.get("custom_llm_provider"))
    rec = Recording(provider, "chat", model, attrs, kwargs.get("stream") is True)
    if rec.capture:
        rec.call.prompt = snapshot(kwargs.get("messages", args[1] if len(args) > 1 else None))
    return rec


def _read_usage(rec: Recording, usage: Any) -> None:
    details = field(usage, "prompt_tokens_details")
    read = as_int(field(details, "cached_tokens"))
    if read is None:
        read = as_int(field(usage, "cache_read_input_tokens"))
    write = as_int(field(usage, "cache_creation_input_tokens"))
    if write is None:
        write = as_int(field(details, "cache_creation_tokens"))
    prompt = as_int(field(usage, "prompt_tokens"))
    if prompt is not None and prompt < (read or 0) + (write or 0):
        prompt += (read or 0) + (write or 0)  # reported on top after all: normalize
    rec.set_usage(
        prompt,
        as_int(field(usage, "completion_tokens")),
        read or None,
        write or None,
        as_int(field(field(usage, "completion_tokens_details"), "reasoning_tokens")) or None,
    )


def _complete(rec: Recording, result: Any) -> Any:
    if isinstance(result, _STREAM_TYPES):
        return StreamProxy(result, ChatAccumulator(rec, _read_usage))
    read_response(rec, result, _read_usage)
    rec.end()
    return result


def instrument() -> Undo:
    """Patch ``litellm.completion``/``acompletion``; return the undo. Raises ImportError
    without ``litellm``."""
    global _STREAM_TYPES, _get_provider
    import litellm
    from litellm.litellm_core_utils.streaming_handler import CustomStreamWrapper

    _STREAM_TYPES = (CustomStreamWrapper,)
    _get_provider = litellm.get_llm_provider
    return combine(
        [
            patch(litellm, "completion", sync_wrapper(_begin, _complete)),
            patch(litellm, "acompletion", async_wrapper(_begin, _complete)),
        ]
    )
