"""Per-token price lines: genai-prices' answers at the cost of a few float operations.

One genai-prices calculation costs 50–300 µs (Decimal arithmetic, tier checks), and
importing its tables costs about 0.2 s per process. For a model whose price is plain
per-token rates, cost is linear in input, output, cache-read and cache-write tokens, so
the first call of each model fits that line through the exact calculation and checks it on
three unrelated usages (small, mid-sized, large). Only when every check agrees is the line
used; otherwise (tiered prices, per-request fees) every call takes the exact path.

Fitted lines — and the fact that a model is unpriced — are kept in
``SPANWISE_HOME/cache/price-lines.json``, keyed by the installed genai-prices files and
the UTC day, so the next process prices the models it has seen without importing the
tables at all. A newer genai-prices or a new day refits.
"""

from __future__ import annotations

import json
import math
import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

M = 1_000_000
CHECKS = ((12, 7, 0, 0), (123_457, 7_891, 2_345, 1_111), (987_654, 65_432, 400_000, 3_210))
BASIS = ((0, 0, 0, 0), (M, 0, 0, 0), (0, M, 0, 0), (M, 0, M, 0), (M, 0, 0, M))
UNPRICED = "unpriced"
EXACT = "exact"

# A fitted line: (base, per_uncached_input, per_output, per_cache_read, per_cache_write, version).
Line = tuple[float, float, float, float, float, str | None]
# What the exact calculation returns for one usage: (cost or None, source, version).
Probe = tuple[float | None, str | None, str | None]


def on_line(line: Line, inp: int, out: int, read: int, write: int) -> float:
    """Input tokens include cached ones: the uncached rest is priced at the input rate.
    Rounded to 1e-15 USD so float noise does not show (1.75e-05, not 1.7500000000000002e-05)."""
    base, per_in, per_out, per_read, per_write, _ = line
    cost = base + per_in * (inp - read - write) + per_out * out + per_read * read
    return round(cost + per_write * write, 15)


def fit(probe: Callable[[int, int, int, int], Probe]) -> Line | str:
    """A line through ``probe`` (the exact price of a usage), ``UNPRICED`` or ``EXACT``."""
    zero_cost, source, version = probe(0, 0, 0, 0)
    if source is None:
        return UNPRICED
    if zero_cost is None:
        return EXACT
    points = [probe(*usage)[0] for usage in BASIS[1:]]
    if any(p is None for p in points):
        return EXACT
    rates = [(float(p) - zero_cost) / M for p in points if p is not None]
    line: Line = (zero_cost, rates[0], rates[1], rates[2], rates[3], version)
    for usage in CHECKS:
        expected = probe(*usage)[0]
        if expected is None or not math.isclose(
            on_line(line, *usage), expected, rel_tol=1e-9, abs_tol=1e-12
        ):
            return EXACT
    return line


def tables_fingerprint() -> str | None:
    """Identifies the installed genai-prices files without importing them (a stat each)."""
    from importlib.util import find_spec

    try:
        spec = find_spec("genai_prices")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    folder = os.path.dirname(spec.origin)
    parts = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.endswith((".py", ".json", ".yml", ".yaml")):
                st = entry.stat()
                parts.append(f"{entry.name}:{st.st_size}:{st.st_mtime_ns}")
    parts.sort()
    return f"{folder}|{'|'.join(parts)}"


def today() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime())


class LineCache:
    """The on-disk side of the lines: read once, merged and replaced atomically on change."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fingerprint = tables_fingerprint()
        self.day = today()

    def load(self) -> dict[str, Any]:
        """Entries valid for the installed tables today; {} when missing or stale."""
        if self.fingerprint is None:
            return {}
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            return {}
        if (
            not isinstance(data, dict)
            or data.get("tables") != self.fingerprint
            or data.get("day") != self.day
            or not isinstance(data.get("lines"), dict)
        ):
            return {}
        return {k: _decode(v) for k, v in data["lines"].items() if _decode(v) is not None}

    def save(self, entries: dict[str, Any]) -> None:
        if self.fingerprint is None:
            return
        merged = self.load()
        merged.update(entries)
        body = {
            "tables": self.fingerprint,
            "day": self.day,
            "lines": {k: list(v) if isinstance(v, tuple) else v for k, v in merged.items()},
        }
        folder = os.path.dirname(self.path)
        os.makedirs(folder, exist_ok=True)
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(body, f)
        os.replace(tmp, self.path)


def _decode(value: Any) -> Line | str | None:
    if value == UNPRICED:
        return UNPRICED
    if isinstance(value, list) and len(value) == 6:
        *numbers, version = value
        if all(isinstance(n, int | float) for n in numbers) and (
            version is None or isinstance(version, str)
        ):
            return (*[float(n) for n in numbers], version)  # type: ignore[return-value]
    return None


SEPARATOR = "\x1f"


def cache_key(provider: str | None, request_model: str, response_model: str | None) -> str:
    return SEPARATOR.join((provider or "", request_model, response_model or ""))
