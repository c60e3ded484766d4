"""Published list prices, copied by hand from the providers' pricing pages, in USD per
million tokens, so the tests check spanwise's costs against arithmetic done here rather
than against the price library spanwise itself uses.

Sources: openai.com/api/pricing (gpt-4o, gpt-4o-mini: cached input at half the input
price for gpt-4o, at half for mini), anthropic.com/pricing (prompt caching: reads at 0.1×
and 5-minute writes at 1.25× the base input price), api-docs.deepseek.com pricing
(deepseek-chat, half price off-peak: 16:30–00:30 UTC), mistral.ai pricing (mistral-small).
Reasoning tokens are billed as output tokens; output counts include them.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import NamedTuple


class Rates(NamedTuple):
    input: float
    cached_input: float
    cache_write: float
    output: float


PUBLISHED = {
    "gpt-4o": Rates(input=2.50, cached_input=1.25, cache_write=2.50, output=10.00),
    "gpt-4o-mini": Rates(input=0.15, cached_input=0.075, cache_write=0.15, output=0.60),
    "claude-haiku-4-5": Rates(input=1.00, cached_input=0.10, cache_write=1.25, output=5.00),
    "claude-opus-4-1": Rates(input=15.00, cached_input=1.50, cache_write=18.75, output=75.00),
    "deepseek-chat": Rates(input=0.27, cached_input=0.07, cache_write=0.27, output=1.10),
    "mistral-small-latest": Rates(input=0.15, cached_input=0.015, cache_write=0.15, output=0.60),
}


OFF_PEAK_HALF_PRICE = {"deepseek-chat"}


def _off_peak(now: time) -> bool:
    return now >= time(16, 30) or now < time(0, 30)


def cost(model: str, *, uncached: int, cache_read: int, cache_write: int, output: int) -> float:
    """USD for one call made now, from token counts as a bill lists them."""
    r = PUBLISHED[model]
    if model in OFF_PEAK_HALF_PRICE and _off_peak(datetime.now(UTC).time()):
        r = Rates(*(rate / 2 for rate in r))
    total = (
        uncached * r.input
        + cache_read * r.cached_input
        + cache_write * r.cache_write
        + output * r.output
    )
    return total / 1_000_000


# The fake server's usage (tests/llm/fake_providers.py), as a bill would list it.
# OpenAI: 1200 prompt tokens of which 1024 cached; 300 output of which 100 reasoning.
OPENAI_BILL = {"uncached": 1200 - 1024, "cache_read": 1024, "cache_write": 0, "output": 300}
# Anthropic: 100 uncached input, 2000 read from cache, 500 written to cache, 250 output.
ANTHROPIC_BILL = {"uncached": 100, "cache_read": 2000, "cache_write": 500, "output": 250}
