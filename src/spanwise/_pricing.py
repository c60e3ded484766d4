"""Cost from the ``genai-prices`` tables, with cached lookups and user overrides.

An unknown model is *unpriced*: cost ``None`` and ``pricing_available`` False — never $0
and never a guessed default. ``genai_prices`` is imported on first use, off the hot path.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import Any

from spanwise._llm_record import LlmCall

# genai-prices is imported by ``configure()`` in the thread that calls it, before the
# writer starts: an import running on a background thread could be seen half-done by the
# program's own imports, be cut in two by fork(), or be refused at interpreter exit.
_READY = False


def load_price_tables() -> None:
    """Import the price tables now (about 0.1–0.3 s, once per process)."""
    _import_prices()


def _import_prices() -> Any:
    global _READY
    import genai_prices

    _READY = True
    return genai_prices


# Prefixes users and gateways put in front of model names ("anthropic/claude-sonnet-4-0").
_PROVIDER_ALIASES = {
    "openai": "openai",
    "azure": "azure",
    "anthropic": "anthropic",
    "claude": "anthropic",
    "google": "google",
    "gemini": "google",
    "vertex_ai": "google",
    "mistral": "mistral",
    "mistral_ai": "mistral",
    "groq": "groq",
    "deepseek": "deepseek",
    "x_ai": "x-ai",
    "xai": "x-ai",
    "cohere": "cohere",
    "aws.bedrock": "aws",
    "bedrock": "aws",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "openrouter": "openrouter",
    "perplexity": "perplexity",
}


@dataclass(frozen=True)
class PriceOverride:
    """USD per million tokens, as in ``[prices."model"]`` of ``config.toml``."""

    input_mtok: float = 0.0
    output_mtok: float = 0.0
    cache_read_mtok: float | None = None
    cache_write_mtok: float | None = None

    def cost(self, call: LlmCall) -> float:
        inp = call.input_tokens or 0
        read = call.cache_read_tokens or 0
        write = call.cache_write_tokens or 0
        read_rate = self.input_mtok if self.cache_read_mtok is None else self.cache_read_mtok
        write_rate = self.input_mtok if self.cache_write_mtok is None else self.cache_write_mtok
        uncached = max(inp - read - write, 0)
        total = (
            uncached * self.input_mtok
            + read * read_rate
            + write * write_rate
            + (call.output_tokens or 0) * self.output_mtok
        )
        return total / 1_000_000


@dataclass(frozen=True)
class Price:
    cost_usd: float | None
    available: bool
    source: str | None
    version: str | None


UNPRICED = Price(None, False, None, None)


def split_model(provider: str | None, model: str) -> tuple[str | None, str]:
    """Normalize ``provider/model`` prefixes: ``anthropic/claude-sonnet-4-0`` →
    (``anthropic``, ``claude-sonnet-4-0``)."""
    prov = _PROVIDER_ALIASES.get(provider.lower(), provider.lower()) if provider else None
    if "/" in model:
        prefix, rest = model.split("/", 1)
        mapped = _PROVIDER_ALIASES.get(prefix.lower())
        if mapped is not None and rest:
            return mapped, rest
    return prov, model


class Pricer:
    """Prices LLM calls; thread-safe, lookups cached per (provider, model)."""

    def __init__(self, overrides: dict[str, PriceOverride] | None = None) -> None:
        self.overrides = {k.lower(): v for k, v in (overrides or {}).items()}
        self._lock = threading.Lock()
        self._version: str | None = None

    def price(self, call: LlmCall) -> Price:
        if call.input_tokens is None or call.output_tokens is None:
            return UNPRICED
        model = call.model
        override = self._override(call.provider, model)
        if override is not None:
            return Price(override.cost(call), True, "override", "config.toml")
        model_price = _lookup(*split_model(call.provider, model))
        if model_price is None and call.response_model and call.request_model != model:
            model_price = _lookup(*split_model(call.provider, call.request_model))
        if model_price is None:
            return UNPRICED
        try:
            cost = _calc(model_price, call)
        except Exception:  # noqa: BLE001 - a price we cannot compute is no price
            return UNPRICED
        return Price(cost, True, "genai-prices", self.version)

    def _override(self, provider: str | None, model: str) -> PriceOverride | None:
        if not self.overrides:
            return None
        prov, bare = split_model(provider, model)
        return (
            self.overrides.get(model.lower())
            or self.overrides.get(bare.lower())
            or (self.overrides.get(f"{prov}/{bare}".lower()) if prov else None)
        )

    @property
    def version(self) -> str:
        if self._version is None:
            try:
                from importlib.metadata import version

                self._version = version("genai-prices")
            except Exception:  # noqa: BLE001 - a missing version must not block pricing
                self._version = str(getattr(_import_prices(), "__version__", "unknown"))
        return self._version


@functools.lru_cache(maxsize=4096)
def _lookup(provider: str | None, model: str) -> Any:
    """The genai-prices ModelPrice for this model, or None when unknown (cached)."""
    prices = _import_prices()
    Usage, calc_price = prices.Usage, prices.calc_price

    usage = Usage(input_tokens=1_000_000, output_tokens=0)
    for provider_id in [provider, None] if provider else [None]:
        try:
            calc = calc_price(usage, model, provider_id=provider_id)
        except LookupError:
            continue
        return calc.model_price
    return None


def _calc(model_price: Any, call: LlmCall) -> float:
    Usage = _import_prices().Usage

    usage = Usage(
        input_tokens=call.input_tokens,
        output_tokens=call.output_tokens,
        cache_read_tokens=call.cache_read_tokens or None,
        cache_write_tokens=call.cache_write_tokens or None,
    )
    return float(model_price.calc_price(usage)["total_price"])


def load_overrides(table: dict[str, Any]) -> dict[str, PriceOverride]:
    """Parse the ``[prices]`` table of config.toml; raise ValueError naming a bad entry."""
    result = {}
    fields = set(PriceOverride.__dataclass_fields__)
    for model, spec in table.items():
        if not isinstance(spec, dict) or not set(spec) <= fields:
            raise ValueError(
                f"price override for {model!r} must have only {sorted(fields)}, got {spec!r}"
            )
        result[model] = PriceOverride(**{k: float(v) for k, v in spec.items()})
    return result


class PriceProcessor:
    """Fills in the cost of LLM-call spans on the writer thread."""

    def __init__(self, pricer: Pricer) -> None:
        self.pricer = pricer

    def _price(self, call: LlmCall) -> None:
        result = self.pricer.price(call)
        call.cost_usd, call.pricing_available = result.cost_usd, result.available
        call.price_source, call.price_version = result.source, result.version
        call.priced = True

    def __call__(self, record: Any) -> Any:
        call = getattr(record, "llm", None)
        if call is not None and not call.priced:
            self._price(call)
        return record

    def process_batch(self, batch: list[Any]) -> list[Any]:
        for record in batch:
            x = getattr(record, "_x", None)
            if x is not None and x.llm is not None and not x.llm.priced:
                self._price(x.llm)
        return batch


def price_processor(pricer: Pricer) -> PriceProcessor:
    return PriceProcessor(pricer)
