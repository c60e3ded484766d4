"""Pricing at ingest speed, with the same answers as ``spanwise._pricing.Pricer``.

One genai-prices calculation costs 50–200 µs, which at tens of thousands of spans a
second is most of the server's time. For a model whose price is plain per-token rates
(no context-size tiers), cost is linear in input, output, cache-read and cache-write
tokens, so the first call of each model fits that line through ``Pricer`` itself and
then checks it against ``Pricer`` on three unrelated usages (small, mid-sized, large).
Only when every check agrees is the line used; otherwise — tiered prices, per-request
fees that break the fit, overrides from config.toml — each call goes through ``Pricer``.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from spanwise._llm_record import LlmCall
from spanwise._pricing import UNPRICED, Price, Pricer

M = 1_000_000
CHECKS = ((12, 7, 0, 0), (123_457, 7_891, 2_345, 1_111), (987_654, 65_432, 400_000, 3_210))
_SLOW = object()
NO_PRICE: Price = UNPRICED


def _probe(call: LlmCall, pricer: Pricer, inp: int, out: int, read: int, write: int) -> Price:
    probe = LlmCall(
        call.provider,
        call.request_model,
        response_model=call.response_model,
        input_tokens=inp,
        output_tokens=out,
        cache_read_tokens=read or None,
        cache_write_tokens=write or None,
    )
    return pricer.price(probe)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


class FastPrices:
    def __init__(self, pricer: Pricer) -> None:
        self.pricer = pricer
        self._lines: dict[tuple[str, str, str | None], Any] = {}
        self._lock = threading.Lock()

    def _fit(self, call: LlmCall) -> Any:
        pricer = self.pricer
        zero = _probe(call, pricer, 0, 0, 0, 0)
        if not zero.available:
            return UNPRICED
        if zero.source != "genai-prices":
            return _SLOW  # an override from config.toml: already cheap
        points = [
            _probe(call, pricer, *usage)
            for usage in ((M, 0, 0, 0), (0, M, 0, 0), (M, 0, M, 0), (M, 0, 0, M))
        ]
        if any(p.cost_usd is None for p in points) or zero.cost_usd is None:
            return _SLOW
        base = zero.cost_usd
        rates = [(float(p.cost_usd) - base) / M for p in points]  # type: ignore[arg-type]
        line = (base, *rates, zero.version)
        for usage in CHECKS:
            expected = _probe(call, pricer, *usage).cost_usd
            if expected is None or not _close(_on_line(line, *usage), expected):
                return _SLOW
        return line

    def price(self, call: LlmCall) -> Price:
        if call.input_tokens is None or call.output_tokens is None:
            return NO_PRICE
        key = (call.provider, call.request_model, call.response_model)
        line = self._lines.get(key)
        if line is None:
            with self._lock:
                line = self._lines.get(key)
                if line is None:
                    line = self._lines[key] = self._fit(call)
        if line is UNPRICED:
            return NO_PRICE
        read, write = call.cache_read_tokens or 0, call.cache_write_tokens or 0
        if line is _SLOW or read + write > call.input_tokens:
            slow: Price = self.pricer.price(call)
            return slow
        cost = _on_line(line, call.input_tokens, call.output_tokens, read, write)
        return Price(cost, True, "genai-prices", line[5])


def _on_line(line: tuple[Any, ...], inp: int, out: int, read: int, write: int) -> float:
    """Input tokens include cached ones: the uncached rest is priced at the input rate."""
    base, per_in, per_out, per_read, per_write, _ = line
    return float(
        base + per_in * (inp - read - write) + per_out * out + per_read * read + per_write * write
    )
