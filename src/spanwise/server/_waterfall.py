"""Geometry of the trace waterfall: spans in tree order, one row each, bars placed on a
shared time axis. The template turns the rows into SVG."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spanwise.cli._common import fmt_duration_ns

ROW_HEIGHT = 20
LABEL_WIDTH = 360
BAR_AREA = 760
AXIS_HEIGHT = 24
MAX_ROWS = 10_000
MAX_LABEL_CHARS = 48
INDENT = 12


@dataclass
class Row:
    span_id: str
    name: str
    label: str
    kind: str
    status: str
    depth: int
    y: int
    x: float
    width: float
    duration: str
    cost_usd: float | None
    model: str | None
    is_llm: bool
    selected: bool


def tree_order(spans: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """(depth, span) in depth-first order, children by start time. Spans whose parent is
    not in the trace (remote or lost) are roots."""
    ids = {s["span_id"] for s in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for s in spans:
        parent = s["parent_span_id"] if s["parent_span_id"] in ids else None
        if parent == s["span_id"]:
            parent = None
        children.setdefault(parent, []).append(s)
    ordered: list[tuple[int, dict[str, Any]]] = []
    seen: set[str] = set()
    stack = [(0, s) for s in reversed(children.get(None, []))]
    while stack:
        depth, span = stack.pop()
        if span["span_id"] in seen:
            continue
        seen.add(span["span_id"])
        ordered.append((depth, span))
        stack.extend((depth + 1, c) for c in reversed(children.get(span["span_id"], [])))
    # Spans caught in a parent cycle never reach a root: show them at the end.
    ordered.extend((0, s) for s in spans if s["span_id"] not in seen)
    return ordered


def _label(name: str, depth: int) -> str:
    room = max(MAX_LABEL_CHARS - depth, 12)
    return name if len(name) <= room else name[: room - 1] + "…"


def layout(spans: list[dict[str, Any]], start_ns: int, end_ns: int,
           selected: str | None = None) -> dict[str, Any]:
    total = max(end_ns - start_ns, 1)
    scale = BAR_AREA / total
    rows = []
    ordered = tree_order(spans)
    for i, (depth, s) in enumerate(ordered[:MAX_ROWS]):
        x = LABEL_WIDTH + (s["start_ns"] - start_ns) * scale
        width = max((s["end_ns"] - s["start_ns"]) * scale, 1.0)
        rows.append(
            Row(
                span_id=s["span_id"],
                name=s["name"],
                label=_label(s["name"], depth),
                kind=s["kind"],
                status=s["status"],
                depth=min(depth, 20),
                y=AXIS_HEIGHT + i * ROW_HEIGHT,
                x=round(x, 1),
                width=round(min(width, LABEL_WIDTH + BAR_AREA - x), 1),
                duration=fmt_duration_ns(s["end_ns"] - s["start_ns"]),
                cost_usd=s.get("cost_usd"),
                model=s.get("model"),
                is_llm=s["kind"] == "llm" or s.get("model") is not None,
                selected=s["span_id"] == selected,
            )
        )
    ticks = [
        (round(LABEL_WIDTH + BAR_AREA * k / 4, 1), fmt_duration_ns(total * k / 4))
        for k in range(5)
    ]
    return {
        "rows": rows,
        "ticks": ticks,
        "width": LABEL_WIDTH + BAR_AREA + 70,
        "height": AXIS_HEIGHT + len(rows) * ROW_HEIGHT + 4,
        "label_width": LABEL_WIDTH,
        "row_height": ROW_HEIGHT,
        "indent": INDENT,
        "truncated": max(len(ordered) - MAX_ROWS, 0),
    }
