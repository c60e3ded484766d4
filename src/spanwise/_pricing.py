"""Cost from the ``genai-prices`` tables, with cached lookups and user overrides.

An unknown model is *unpriced*: cost ``None`` and ``pricing_available`` False — never $0
and never a guessed default. ``genai_prices`` is imported on first use, off the hot path.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from typing import Any

from spanwise import _price_lines as lines
from spanwise._llm_record import LlmCall

# genai-prices is imported in the program's thread, when the first call with usage of a
# model the price-line cache does not know is recorded (``prepare_for``); a process whose
# calls are all cached, or report no usage, never imports it. Not
# on the writer thread: an import running there could be seen half-done by the program
# (the openai SDK looks up ``sys.modules["httpx2"]``, which genai-prices imports, on every
# request) or be cut in two by fork(). Should the writer still need it, the import holds
# ``_IMPORT_GATE``, which fork() waits for.
_IMPORT_GATE = threading.Lock()
_GATE_HELD_FOR_FORK = False
_IMPORTED = False


def load_price_tables() -> None:
    """Import the price tables now (about 0.1–0.3 s, once per process)."""
    _import_prices()


def _import_prices() -> Any:
    global _IMPORTED
    with _IMPORT_GATE:
        import genai_prices
    _IMPORTED = True
    return genai_prices


def prepare_for(call: LlmCall) -> None:
    """In the program's thread, as a span gets ``call``: import the tables now if the
    writer will need them to price this model (it is not in the line cache)."""
    if _IMPORTED:
        return
    from spanwise._setup import STATE

    pricer = STATE.pricer
    if pricer is None or pricer.covers(call.provider, call.request_model):
        return
    try:
        load_price_tables()
    except Exception as exc:  # noqa: BLE001 - without tables the call is unpriced, not fatal
        from spanwise import _internal

        _internal.report("pricing.prepare_for", exc)


def _gate_before_fork() -> None:
    global _GATE_HELD_FOR_FORK
    _GATE_HELD_FOR_FORK = _IMPORT_GATE.acquire(timeout=5.0)


def _gate_after_fork_in_parent() -> None:
    global _GATE_HELD_FOR_FORK
    if _GATE_HELD_FOR_FORK:
        _GATE_HELD_FOR_FORK = False
        _IMPORT_GATE.release()


def _gate_after_fork_in_child() -> None:
    global _IMPORT_GATE, _GATE_HELD_FOR_FORK
    _IMPORT_GATE, _GATE_HELD_FOR_FORK = threading.Lock(), False


os.register_at_fork(
    before=_gate_before_fork,
    after_in_parent=_gate_after_fork_in_parent,
    after_in_child=_gate_after_fork_in_child,
)


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


# Plain slotted classes rather than NamedTuples or dataclasses: this module loads in every
# observed process, and a typed NamedTuple costs more to build at import than the rest of
# the module together (its string annotations are compiled one by one).
class PriceOverride:
    """USD per million tokens, as in ``[prices."model"]`` of ``config.toml``."""

    __slots__ = ("cache_read_mtok", "cache_write_mtok", "input_mtok", "output_mtok")
    FIELDS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")

    def __init__(
        self,
        input_mtok: float = 0.0,
        output_mtok: float = 0.0,
        cache_read_mtok: float | None = None,
        cache_write_mtok: float | None = None,
    ) -> None:
        self.input_mtok, self.output_mtok = input_mtok, output_mtok
        self.cache_read_mtok, self.cache_write_mtok = cache_read_mtok, cache_write_mtok

    def _values(self) -> tuple[float | None, ...]:
        return tuple(getattr(self, name) for name in self.FIELDS)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PriceOverride) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.FIELDS)
        return f"PriceOverride({inner})"

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


class Price:
    """One call's price: cost ``None`` and ``available`` False when unpriced."""

    __slots__ = ("available", "cost_usd", "source", "version")

    def __init__(
        self, cost_usd: float | None, available: bool, source: str | None, version: str | None
    ) -> None:
        self.cost_usd, self.available = cost_usd, available
        self.source, self.version = source, version

    def __repr__(self) -> str:
        return f"Price({self.cost_usd!r}, {self.available!r}, {self.source!r}, {self.version!r})"


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
    """Prices LLM calls; thread-safe. Models with plain per-token rates are priced on a
    fitted line (see ``_price_lines``); ``cache_path`` keeps those lines across processes."""

    def __init__(
        self, overrides: dict[str, PriceOverride] | None = None, cache_path: str | None = None
    ) -> None:
        self.overrides = {k.lower(): v for k, v in (overrides or {}).items()}
        self._lock = threading.Lock()
        self._version: str | None = None
        self._cache = lines.LineCache(cache_path) if cache_path else None
        self._lines: dict[str, Any] | None = None
        self._models: set[str] = set()  # provider and request model of every line
        self._models_of: dict[str, Any] | None = None  # the lines they were taken from
        self._models_size = 0
        self._covered: set[tuple[str | None, str]] = set()  # (provider, model) covers() said
        self._day_ends = 0.0  # lines are refitted each UTC day

    def use_cache(self, cache_path: str) -> None:
        """Keep fitted lines in ``cache_path`` from now on (read at the next lookup)."""
        with self._lock:
            self._cache = lines.LineCache(cache_path)
            self._lines = None

    def price(self, call: LlmCall) -> Price:
        inp, out = call.input_tokens, call.output_tokens
        if inp is None or out is None:
            return UNPRICED
        if self.overrides and self._override(call.provider, call.model) is not None:
            return self.exact_price(call)
        known = self._lines
        if known is None or time.time() >= self._day_ends:
            known = self._load_lines()  # a new day: prices may have changed at midnight
        key = lines.cache_key(call.provider, call.request_model, call.response_model)
        line = known.get(key)
        if line is None:
            line = self._fit(call, key)
        if line == lines.UNPRICED:
            return UNPRICED
        read, write = call.cache_read_tokens or 0, call.cache_write_tokens or 0
        if line == lines.EXACT or read + write > inp:
            return self.exact_price(call)
        cost = lines.on_line(line, inp, out, read, write)
        return Price(cost, True, "genai-prices", line[5])

    def covers(self, provider: str | None, request_model: str) -> bool:
        """True when this model is priced (or known unpriced) without genai-prices, or an
        override prices it."""
        if self.overrides and self._override(provider, request_model) is not None:
            return True
        known = self._lines if self._lines is not None else self._load_lines()
        if self._models_of is not known or self._models_size != len(known):
            # Lines were loaded or added since: index their models again.
            self._models = {key.rsplit(lines.SEPARATOR, 1)[0] for key in known}
            self._models_of, self._models_size = known, len(known)
            self._covered = set()
        # Asked at every call with usage until the tables load: the answer is kept while
        # the lines stay the same.
        asked = (provider, request_model)
        if asked in self._covered:
            return True
        found = lines.cache_key(provider, request_model, None).rsplit(lines.SEPARATOR, 1)[0]
        if found in self._models:
            self._covered.add(asked)
            return True
        return False

    def _load_lines(self) -> dict[str, Any]:
        with self._lock:
            if self._lines is None or time.time() >= self._day_ends:
                self._day_ends = (time.time() // 86_400 + 1) * 86_400
                if self._cache is not None:
                    self._cache.day = lines.today()
                self._lines = self._cache.load() if self._cache is not None else {}
            return self._lines

    def _fit(self, call: LlmCall, key: str) -> Any:
        with self._lock:
            known = self._lines if self._lines is not None else {}
            line = known.get(key)
            if line is not None:
                return line

            def probe(inp: int, out: int, read: int, write: int) -> lines.Probe:
                result = self.exact_price(
                    LlmCall(
                        call.provider,
                        call.request_model,
                        response_model=call.response_model,
                        input_tokens=inp,
                        output_tokens=out,
                        cache_read_tokens=read or None,
                        cache_write_tokens=write or None,
                    )
                )
                return result.cost_usd, result.source, result.version

            entry = self._entry(call)
            if entry is not None and _varies_by_time_of_day(entry):
                line = lines.EXACT  # a line would hold one part of the day's prices
            else:
                line = lines.fit(probe)
            self._lines = {**known, key: line}
            if self._cache is not None and line != lines.EXACT:
                try:
                    self._cache.save({key: line})
                except OSError:
                    pass  # the cache only saves time; without it every process fits again
            return line

    def exact_price(self, call: LlmCall) -> Price:
        """The price computed by genai-prices (or an override) for this one call."""
        if call.input_tokens is None or call.output_tokens is None:
            return UNPRICED
        model = call.model
        override = self._override(call.provider, model)
        if override is not None:
            return Price(override.cost(call), True, "override", "config.toml")
        entry = self._entry(call)
        if entry is None:
            return UNPRICED
        try:
            cost = _calc(entry, call)
        except Exception:  # noqa: BLE001 - a price we cannot compute is no price
            return UNPRICED
        return Price(cost, True, "genai-prices", self.version)

    @staticmethod
    def _entry(call: LlmCall) -> Any:
        entry = _lookup(*split_model(call.provider, call.model))
        if entry is None and call.response_model and call.request_model != call.model:
            entry = _lookup(*split_model(call.provider, call.request_model))
        return entry

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
    """genai-prices' (model, provider) entries for this model, or None when unknown (cached).
    Which of a model's prices applies is chosen at each calculation: some change with the
    date, or the time of day (DeepSeek's off-peak hours)."""
    prices = _import_prices()
    Usage, calc_price = prices.Usage, prices.calc_price

    usage = Usage(input_tokens=1_000_000, output_tokens=0)
    for provider_id in [provider, None] if provider else [None]:
        try:
            calc = calc_price(usage, model, provider_id=provider_id)
        except LookupError:
            continue
        return calc.model, calc.provider
    return None


def _varies_by_time_of_day(entry: Any) -> bool:
    conditional = entry[0].prices
    return isinstance(conditional, list) and any(
        type(getattr(c, "constraint", None)).__name__ == "TimeOfDateConstraint" for c in conditional
    )


def _calc(entry: Any, call: LlmCall) -> float:
    Usage = _import_prices().Usage

    usage = Usage(
        input_tokens=call.input_tokens,
        output_tokens=call.output_tokens,
        cache_read_tokens=call.cache_read_tokens or None,
        cache_write_tokens=call.cache_write_tokens or None,
    )
    model, provider = entry
    return float(model.calc_price(usage, provider).total_price)


def load_overrides(table: dict[str, Any]) -> dict[str, PriceOverride]:
    """Parse the ``[prices]`` table of config.toml; raise ValueError naming a bad entry."""
    result = {}
    fields = set(PriceOverride.FIELDS)
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
