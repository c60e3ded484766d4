"""OpenTelemetry GenAI attribute names and the mapping from span attributes to an LLM call.

Names follow the GenAI semantic conventions v1.41 (``GENAI``). ``llm_call_from_attributes``
also reads the older names (``gen_ai.system``, ``gen_ai.usage.prompt_tokens`` /
``completion_tokens``, OpenLLMetry's indexed ``gen_ai.prompt.N.*``) and OpenInference's
``llm.*`` names, so spans from any GenAI instrumentation become typed ``LlmCall`` records.

OpenTelemetry defines no cost attribute: spanwise exports cost as ``spanwise.cost_usd``
(with ``spanwise.pricing_available``, ``spanwise.price_source``, ``spanwise.price_version``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from spanwise._llm_record import LlmCall
from spanwise._runtime import RT


class GENAI:
    """Attribute names: OpenTelemetry GenAI v1.41, the deprecated ones we still read, and
    spanwise's own (``spanwise.*``) where the conventions define none."""

    OPERATION = "gen_ai.operation.name"
    PROVIDER = "gen_ai.provider.name"
    REQUEST_MODEL = "gen_ai.request.model"
    RESPONSE_MODEL = "gen_ai.response.model"
    RESPONSE_ID = "gen_ai.response.id"
    FINISH_REASONS = "gen_ai.response.finish_reasons"
    TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"  # seconds
    REQUEST_STREAM = "gen_ai.request.stream"
    REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
    REQUEST_TEMPERATURE = "gen_ai.request.temperature"
    REQUEST_TOP_P = "gen_ai.request.top_p"
    REQUEST_TOP_K = "gen_ai.request.top_k"
    REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty"
    REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty"
    REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"
    REQUEST_SEED = "gen_ai.request.seed"
    REQUEST_CHOICE_COUNT = "gen_ai.request.choice.count"
    REQUEST_ENCODING_FORMATS = "gen_ai.request.encoding_formats"
    OUTPUT_TYPE = "gen_ai.output.type"
    CONVERSATION_ID = "gen_ai.conversation.id"
    EMBEDDINGS_DIMENSION = "gen_ai.embeddings.dimension.count"

    INPUT_TOKENS = "gen_ai.usage.input_tokens"  # inclusive of cached tokens
    OUTPUT_TOKENS = "gen_ai.usage.output_tokens"  # inclusive of reasoning tokens
    CACHE_READ_TOKENS = "gen_ai.usage.cache_read.input_tokens"
    CACHE_CREATION_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
    REASONING_TOKENS = "gen_ai.usage.reasoning.output_tokens"

    INPUT_MESSAGES = "gen_ai.input.messages"  # opt-in content, JSON
    OUTPUT_MESSAGES = "gen_ai.output.messages"
    SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
    TOOL_DEFINITIONS = "gen_ai.tool.definitions"

    ERROR_TYPE = "error.type"
    SERVER_ADDRESS = "server.address"
    SERVER_PORT = "server.port"

    # Deprecated or newer-than-v1.41 names, read on ingest only.
    SYSTEM = "gen_ai.system"
    PROMPT_TOKENS = "gen_ai.usage.prompt_tokens"
    COMPLETION_TOKENS = "gen_ai.usage.completion_tokens"
    CACHE_WRITE_TOKENS = "gen_ai.usage.cache_write.input_tokens"
    PROMPT = "gen_ai.prompt"
    COMPLETION = "gen_ai.completion"

    # spanwise's own.
    COST_USD = "spanwise.cost_usd"
    PRICING_AVAILABLE = "spanwise.pricing_available"
    PRICE_SOURCE = "spanwise.price_source"
    PRICE_VERSION = "spanwise.price_version"
    USAGE_MISSING = "spanwise.usage.missing"  # True: the provider sent no usage (tokens unknown)
    STREAM_INCOMPLETE = "spanwise.stream.incomplete"  # True: the stream ended before its end


class OI:
    """OpenInference names (Arize), read on ingest."""

    SPAN_KIND = "openinference.span.kind"
    MODEL_NAME = "llm.model_name"
    REQUEST_MODEL_NAME = "llm.request.model_name"
    RESPONSE_MODEL_NAME = "llm.response.model_name"
    EMBEDDING_MODEL_NAME = "embedding.model_name"
    PROVIDER = "llm.provider"
    SYSTEM = "llm.system"
    PROMPT_TOKENS = "llm.token_count.prompt"
    COMPLETION_TOKENS = "llm.token_count.completion"
    CACHE_READ = "llm.token_count.prompt_details.cache_read"
    CACHE_WRITE = "llm.token_count.prompt_details.cache_write"
    REASONING = "llm.token_count.completion_details.reasoning"
    INPUT_MESSAGES = "llm.input_messages"
    OUTPUT_MESSAGES = "llm.output_messages"
    INPUT_VALUE = "input.value"
    OUTPUT_VALUE = "output.value"
    INVOCATION_PARAMETERS = "llm.invocation_parameters"


INFERENCE_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})
_OI_OPERATIONS = {"LLM": "chat", "EMBEDDING": "embeddings"}

# Old gen_ai.system values and OpenInference llm.provider / llm.system values → v1.41 names.
PROVIDER_NAMES = {
    "az.ai.openai": "azure.ai.openai",
    "az.ai.inference": "azure.ai.inference",
    "azure": "azure.ai.openai",
    "vertex_ai": "gcp.vertex_ai",
    "vertexai": "gcp.vertex_ai",
    "gemini": "gcp.gemini",
    "google": "gcp.gemini",
    "xai": "x_ai",
    "mistralai": "mistral_ai",
    "mistral": "mistral_ai",
    "aws": "aws.bedrock",
    "bedrock": "aws.bedrock",
    "amazon": "aws.bedrock",
    "watsonx": "ibm.watsonx.ai",
}

# Attributes that hold prompts, responses or other user content. They are kept only when
# content capture is on, and then only inside the LLM call (where they are redacted).
CONTENT_KEY_PREFIXES = (
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
    "gen_ai.prompt",
    "gen_ai.completion",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "gen_ai.retrieval.",
    "llm.input_messages",
    "llm.output_messages",
    "llm.prompts",
    "llm.prompt_template.variables",
    "llm.tools",
    "input.value",
    "output.value",
    "embedding.embeddings",
    "retrieval.documents",
    "reranker.",
)


def is_content_key(key: str) -> bool:
    """True when the attribute ``key`` carries user content (prompts, outputs, documents)."""
    return key.startswith(CONTENT_KEY_PREFIXES)


def llm_call_from_attributes(
    attributes: Mapping[str, Any], *, content: bool | None = None
) -> LlmCall | None:
    """The LLM call described by a span's attributes, or None when it is not one.

    A span is an LLM call when ``gen_ai.operation.name`` is an inference operation (chat,
    text_completion, generate_content, embeddings), when ``openinference.span.kind`` is
    LLM or EMBEDDING, or, with neither, when it names a model or provider and reports
    token usage. Agent, tool and workflow spans are not LLM calls even when they carry
    aggregated usage (that would count tokens twice).

    Input tokens are stored inclusive of cached tokens, as the conventions say; a span
    whose cached tokens exceed its input tokens evidently reported them on top (as
    Anthropic does) and is normalized. Content (messages, system instructions) is copied
    raw when ``content`` is true (default: when content capture is on); it must then go
    through the pipeline, whose transcript processor caps and redacts it.
    """
    get = attributes.get
    operation = _str(get(GENAI.OPERATION))
    if operation is not None:
        if operation not in INFERENCE_OPERATIONS:
            return None
    else:
        oi_kind = _str(get(OI.SPAN_KIND))
        if oi_kind is not None:
            operation = _OI_OPERATIONS.get(oi_kind.upper())
            if operation is None:
                return None
        elif _looks_like_llm_call(attributes):
            operation = "chat"
        else:
            return None

    request_model = (
        _str(get(GENAI.REQUEST_MODEL))
        or _str(get(OI.REQUEST_MODEL_NAME))
        or _str(get(OI.EMBEDDING_MODEL_NAME))
    )
    response_model = _str(get(GENAI.RESPONSE_MODEL)) or _str(get(OI.RESPONSE_MODEL_NAME))
    oi_model = _str(get(OI.MODEL_NAME))
    if request_model is None:
        request_model = oi_model or response_model or "unknown"
    elif response_model is None and oi_model and oi_model != request_model:
        response_model = oi_model

    provider = _provider(attributes)
    input_tokens = _first_int(attributes, GENAI.INPUT_TOKENS, GENAI.PROMPT_TOKENS, OI.PROMPT_TOKENS)
    cache_read = _first_int(attributes, GENAI.CACHE_READ_TOKENS, OI.CACHE_READ)
    cache_write = _first_int(
        attributes, GENAI.CACHE_CREATION_TOKENS, GENAI.CACHE_WRITE_TOKENS, OI.CACHE_WRITE
    )
    if input_tokens is not None and input_tokens < (cache_read or 0) + (cache_write or 0):
        input_tokens += (cache_read or 0) + (cache_write or 0)
    ttft_s = _float(get(GENAI.TIME_TO_FIRST_CHUNK))
    call = LlmCall(
        provider,
        request_model,
        response_model=response_model,
        operation=operation,
        input_tokens=input_tokens,
        output_tokens=_first_int(
            attributes, GENAI.OUTPUT_TOKENS, GENAI.COMPLETION_TOKENS, OI.COMPLETION_TOKENS
        ),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=_first_int(attributes, GENAI.REASONING_TOKENS, OI.REASONING),
        time_to_first_token_ms=ttft_s * 1000.0 if ttft_s is not None else None,
        streamed=get(GENAI.REQUEST_STREAM) is True,
        finish_reasons=_str_list(get(GENAI.FINISH_REASONS)),
    )
    if content if content is not None else RT.capture_content:
        call.prompt = _input_content(attributes)
        call.response = _output_content(attributes)
        call.system = _json_or_text(get(GENAI.SYSTEM_INSTRUCTIONS))
    return call


def _looks_like_llm_call(attributes: Mapping[str, Any]) -> bool:
    named = any(
        attributes.get(key) is not None
        for key in (GENAI.REQUEST_MODEL, GENAI.RESPONSE_MODEL, GENAI.SYSTEM, OI.MODEL_NAME)
    )
    counted = any(
        attributes.get(key) is not None
        for key in (
            GENAI.INPUT_TOKENS,
            GENAI.OUTPUT_TOKENS,
            GENAI.PROMPT_TOKENS,
            GENAI.COMPLETION_TOKENS,
            OI.PROMPT_TOKENS,
            OI.COMPLETION_TOKENS,
        )
    )
    return named and counted


def _provider(attributes: Mapping[str, Any]) -> str:
    for key in (GENAI.PROVIDER, GENAI.SYSTEM, OI.PROVIDER, OI.SYSTEM):
        value = _str(attributes.get(key))
        if value:
            lowered = value.lower()
            return PROVIDER_NAMES.get(lowered, lowered)
    return "unknown"


def _str(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return int(value) if value >= 0 and value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        return int(text) if text.isdigit() else None
    return None


def _first_int(attributes: Mapping[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = _int(attributes.get(key))
        if value is not None:
            return value
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None
    return float(value)


def _str_list(value: Any) -> list[str] | None:
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value if v is not None]
        return items or None
    if isinstance(value, str) and value:
        parsed = _json_or_text(value)
        if isinstance(parsed, list):
            return [str(v) for v in parsed] or None
        return [value]
    return None


def _json_or_text(value: Any) -> Any:
    """A JSON string parsed, other strings as they are, structured values unchanged."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("[", "{"):
            try:
                return json.loads(text)
            except ValueError:
                return value
        return value
    if isinstance(value, tuple):
        return list(value)
    return value


def _indexed(attributes: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """Flattened lists such as ``llm.input_messages.0.message.role`` → list of dicts."""
    items: dict[int, dict[str, Any]] = {}
    start = prefix + "."
    for key, value in attributes.items():
        if not key.startswith(start):
            continue
        index, _, field = key[len(start) :].partition(".")
        if not index.isdigit() or not field:
            continue
        if field.startswith("message."):
            field = field[len("message.") :]
        items.setdefault(int(index), {})[field] = value
    return [items[i] for i in sorted(items)]


def _input_content(attributes: Mapping[str, Any]) -> Any:
    for key in (GENAI.INPUT_MESSAGES, GENAI.PROMPT):
        value = attributes.get(key)
        if value is not None:
            return _json_or_text(value)
    for prefix in (GENAI.PROMPT, OI.INPUT_MESSAGES):
        messages = _indexed(attributes, prefix)
        if messages:
            return messages
    value = attributes.get(OI.INPUT_VALUE)
    return _json_or_text(value) if value is not None else None


def _output_content(attributes: Mapping[str, Any]) -> Any:
    for key in (GENAI.OUTPUT_MESSAGES, GENAI.COMPLETION):
        value = attributes.get(key)
        if value is not None:
            return _json_or_text(value)
    for prefix in (GENAI.COMPLETION, OI.OUTPUT_MESSAGES):
        messages = _indexed(attributes, prefix)
        if messages:
            return messages
    value = attributes.get(OI.OUTPUT_VALUE)
    return _json_or_text(value) if value is not None else None
