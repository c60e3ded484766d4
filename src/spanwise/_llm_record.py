"""The typed part of an LLM-call span: tokens, timings and (filled in later) cost."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


# Providers whose APIs report cache tokens *on top of* input tokens. Everything stored
# follows the OpenTelemetry rule instead: input_tokens includes cached tokens.
ADDITIVE_CACHE_PROVIDERS = frozenset({"anthropic"})


class LlmCall:
    """Typed columns of one LLM call. Token counts of ``None`` mean *unknown*, never 0."""

    __slots__ = (
        "cache_read_tokens",
        "cache_write_tokens",
        "cost_usd",
        "finish_reasons",
        "input_tokens",
        "operation",
        "output_tokens",
        "price_source",
        "price_version",
        "priced",
        "pricing_available",
        "prompt",
        "provider",
        "reasoning_tokens",
        "request_model",
        "response",
        "response_model",
        "streamed",
        "system",
        "time_to_first_token_ms",
    )

    def __init__(
        self,
        provider: str,
        request_model: str,
        *,
        response_model: str | None = None,
        operation: str = "chat",
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cache_read_tokens: int | None = None,
        cache_write_tokens: int | None = None,
        reasoning_tokens: int | None = None,
        time_to_first_token_ms: float | None = None,
        streamed: bool = False,
        finish_reasons: list[str] | None = None,
        prompt: Any = None,
        response: Any = None,
        system: Any = None,
    ) -> None:
        self.provider = provider
        self.request_model = request_model
        self.response_model = response_model
        self.operation = operation
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.cache_read_tokens = cache_read_tokens
        self.cache_write_tokens = cache_write_tokens
        self.reasoning_tokens = reasoning_tokens
        self.time_to_first_token_ms = time_to_first_token_ms
        self.streamed = streamed
        self.finish_reasons = finish_reasons
        self.prompt = prompt
        self.response = response
        self.system = system
        self.cost_usd: float | None = None
        self.pricing_available: bool | None = None
        self.price_source: str | None = None
        self.price_version: str | None = None
        self.priced = False

    @property
    def model(self) -> str:
        """The model that answered when known, else the one requested."""
        return self.response_model or self.request_model

    @property
    def usage_known(self) -> bool:
        return self.input_tokens is not None and self.output_tokens is not None

    def __repr__(self) -> str:
        return (
            f"LlmCall({self.provider}/{self.model} in={self.input_tokens} out={self.output_tokens} "
            f"cache_read={self.cache_read_tokens} cost={self.cost_usd})"
        )


def normalize_input_tokens(
    provider: str,
    input_tokens: int | None,
    cache_read_tokens: int | None,
    cache_write_tokens: int | None,
    usage_convention: str | None,
) -> int | None:
    """Return input tokens in the inclusive convention.

    ``usage_convention`` is ``"inclusive"`` (cached tokens already counted in input, as
    OpenAI and OpenTelemetry report them), ``"additive"`` (reported on top, as Anthropic
    does) or ``None`` for the provider's own convention.
    """
    if input_tokens is None:
        return None
    convention = usage_convention or (
        "additive" if provider.lower() in ADDITIVE_CACHE_PROVIDERS else "inclusive"
    )
    if convention == "additive":
        return input_tokens + (cache_read_tokens or 0) + (cache_write_tokens or 0)
    if convention != "inclusive":
        raise ValueError(
            f"usage_convention must be 'inclusive', 'additive' or None, not {usage_convention!r}"
        )
    return input_tokens


def call_from_row(row: Any, **extra: Any) -> LlmCall:
    """An ``LlmCall`` from a stored ``llm_calls`` row (a mapping with its column names);
    ``extra`` sets the other constructor fields (timing, content)."""
    return LlmCall(
        row["provider"],
        row["request_model"],
        response_model=row["response_model"],
        operation=row["operation"],
        input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"],
        cache_read_tokens=row["cache_read_tokens"],
        cache_write_tokens=row["cache_write_tokens"],
        reasoning_tokens=row["reasoning_tokens"],
        **extra,
    )
