"""Geometry of the cost-over-time chart: one stacked bar per time bucket, a segment per
model. The template draws it as SVG; no chart library."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from spanwise.cli._common import fmt_cost

WIDTH = 960
HEIGHT = 300
LEFT = 80
BOTTOM = 40
TOP = 12
MAX_BUCKETS = 400
PALETTE_SIZE = 10


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 × 10^k at or above ``value``."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)


def _label(bucket: int, bucket_ns: int) -> str:
    moment = datetime.fromtimestamp(bucket / 1e9, tz=UTC)
    return moment.strftime("%m-%d") if bucket_ns >= 86_400 * 10**9 else moment.strftime("%d %H:00")


def cost_chart(
    rows: list[dict[str, Any]],
    models: list[dict[str, Any]],
    bucket_ns: int,
    since_ns: int | None,
    now_ns: int,
) -> dict[str, Any]:
    if not rows:
        return {
            "bars": [],
            "legend": [],
            "ticks": [],
            "labels": [],
            "width": WIDTH,
            "height": HEIGHT,
            "left": LEFT,
            "top": TOP,
            "bottom": HEIGHT - BOTTOM,
        }
    colors = {m["model"]: i % PALETTE_SIZE for i, m in enumerate(models)}
    first = min(r["bucket"] for r in rows)
    if since_ns is not None:
        first = min(first, since_ns - since_ns % bucket_ns)
    last = max(max(r["bucket"] for r in rows), now_ns - now_ns % bucket_ns)
    first = max(first, last - (MAX_BUCKETS - 1) * bucket_ns)
    count = (last - first) // bucket_ns + 1
    per_bucket: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        if r["bucket"] >= first:
            per_bucket.setdefault(r["bucket"], []).append(r)
    top_value = nice_ceiling(
        max((sum(r["cost_usd"] or 0 for r in group) for group in per_bucket.values()), default=0)
    )
    plot_h = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT - 10) / count
    bars = []
    for i in range(count):
        bucket = first + i * bucket_ns
        group = sorted(per_bucket.get(bucket, []), key=lambda r: colors.get(r["model"], 0))
        y = float(HEIGHT - BOTTOM)
        segments = []
        for r in group:
            h = (r["cost_usd"] or 0) / top_value * plot_h
            y -= h
            segments.append(
                {
                    "model": r["model"],
                    "cost": fmt_cost(r["cost_usd"] or 0),
                    "y": round(y, 1),
                    "height": round(h, 2),
                    "color": colors.get(r["model"], 0),
                    "calls": r["calls"],
                }
            )
        bars.append(
            {
                "x": round(LEFT + i * slot + slot * 0.1, 1),
                "width": round(max(slot * 0.8, 1.0), 1),
                "label": _label(bucket, bucket_ns),
                "segments": segments,
                "total": fmt_cost(
                    sum(r["cost_usd"] or 0 for r in group), sum(r["unpriced_calls"] for r in group)
                ),
                "unpriced": sum(r["unpriced_calls"] for r in group),
            }
        )
    every = max(1, math.ceil(count / 12))
    labels = [(b["x"] + b["width"] / 2, b["label"]) for i, b in enumerate(bars) if i % every == 0]
    ticks = [
        (round(HEIGHT - BOTTOM - plot_h * k / 4, 1), fmt_cost(top_value * k / 4)) for k in range(5)
    ]
    legend = [
        {
            "model": m["model"],
            "color": colors[m["model"]],
            "cost": fmt_cost(m["cost_usd"], m["unpriced_calls"]),
        }
        for m in models
    ]
    return {
        "bars": bars,
        "legend": legend,
        "ticks": ticks,
        "labels": labels,
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "top": TOP,
        "bottom": HEIGHT - BOTTOM,
    }
