"""The trace waterfall: spans in tree order, one row each, bars placed on a shared time
axis, drawn as SVG.

The rows are written here rather than in the template: a 5,000-span trace renders in a
few milliseconds instead of a few hundred. Every user string goes through ``escape``.
"""

from __future__ import annotations

from html import escape
from typing import Any

from markupsafe import Markup

from spanwise.cli._common import fmt_cost, fmt_duration_ns

ROW_HEIGHT = 20
LABEL_WIDTH = 360
BAR_AREA = 760
AXIS_HEIGHT = 24
MAX_ROWS = 10_000
MAX_LABEL_CHARS = 48
INDENT = 12
RIGHT_MARGIN = 170
BAR_CLASSES = frozenset({"llm", "tool", "lock", "workflow", "node", "agent", "embedding"})


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


def _row(
    i: int,
    depth: int,
    s: dict[str, Any],
    start_ns: int,
    scale: float,
    width: int,
    selected: str | None,
) -> str:
    y = AXIS_HEIGHT + i * ROW_HEIGHT
    duration_ns = s["end_ns"] - s["start_ns"]
    x = round(LABEL_WIDTH + (s["start_ns"] - start_ns) * scale, 1)
    bar_w = round(min(max(duration_ns * scale, 1.0), LABEL_WIDTH + BAR_AREA - x), 1)
    name = escape(s["name"])
    kind = s["kind"]
    bar = "bar kind-" + (kind if kind in BAR_CLASSES else "other")
    if s["status"] == "error":
        bar += " error"
    duration = fmt_duration_ns(duration_ns)
    model = s.get("model")
    note = duration
    if kind == "llm" or model is not None:
        cost = s.get("cost_usd")
        note += " · " + ("unpriced" if cost is None else fmt_cost(cost))
    title = f"{name} · {escape(kind)} · {duration}" + (f" · {escape(model)}" if model else "")
    chosen = " selected" if s["span_id"] == selected else ""
    depth = min(depth, 20)
    return (
        f'<a href="?span={escape(s["span_id"])}#span-detail" class="row{chosen}" '
        f'data-name="{name}"><title>{title}</title>'
        f'<rect class="row-bg" x="0" y="{y}" width="{width}" height="{ROW_HEIGHT}"></rect>'
        f'<text class="label" x="{4 + depth * INDENT}" y="{y + 14}">'
        f"{escape(_label(s['name'], depth))}</text>"
        f'<rect class="{bar}" x="{x}" y="{y + 4}" width="{bar_w}" height="12" rx="2"></rect>'
        f'<text class="dur" x="{round(x + bar_w + 4, 1)}" y="{y + 14}">{note}</text></a>\n'
    )


def layout(
    spans: list[dict[str, Any]], start_ns: int, end_ns: int, selected: str | None = None
) -> dict[str, Any]:
    """What the template needs: the rows as SVG markup, axis ticks and the size."""
    total = max(end_ns - start_ns, 1)
    scale = BAR_AREA / total
    width = LABEL_WIDTH + BAR_AREA + RIGHT_MARGIN
    ordered = tree_order(spans)
    shown = ordered[:MAX_ROWS]
    rows = "".join(
        _row(i, depth, s, start_ns, scale, width, selected) for i, (depth, s) in enumerate(shown)
    )
    ticks = [
        (round(LABEL_WIDTH + BAR_AREA * k / 4, 1), fmt_duration_ns(total * k / 4)) for k in range(5)
    ]
    return {
        "rows_svg": Markup(rows),
        "count": len(shown),
        "ticks": ticks,
        "width": width,
        "height": AXIS_HEIGHT + len(shown) * ROW_HEIGHT + 4,
        "truncated": len(ordered) - len(shown),
    }
