"""Shapes for the trace page's debugging panels: the lock timeline (one row per lock
acquisition: its wait, then its hold) and state diffs (JSON Patch operations), built from
whatever columns the feature tables have."""

from __future__ import annotations

import json
from typing import Any

from spanwise.cli._common import fmt_duration_ns

LANE_LABEL = 300
LANE_AREA = 700
LANE_ROW = 18
MAX_ACQUISITIONS = 500
MAX_OPS = 200


def _acquisitions(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pair requested/acquired/released events by their ``acquisition`` id."""
    found: dict[str, dict[str, Any]] = {}
    for i, e in enumerate(events):
        key = str(e.get("acquisition") or f"event-{i}")
        a = found.setdefault(
            key,
            {
                "lock": e.get("lock_name") or "?",
                "holder": None,
                "req": None,
                "acq": None,
                "rel": None,
                "outcome": None,
            },
        )
        holder = e.get("thread") or e.get("task")
        if holder:
            a["holder"] = str(holder)
        t, kind = e.get("time_ns"), e.get("event")
        if not isinstance(t, int):
            continue
        if kind == "requested":
            a["req"] = t
        elif kind == "acquired":
            a["acq"] = t
            wait = e.get("wait_ns")
            if a["req"] is None and isinstance(wait, int):
                a["req"] = t - wait
        elif kind == "released":
            a["rel"] = t
            hold = e.get("hold_ns")
            if a["acq"] is None and isinstance(hold, int):
                a["acq"] = t - hold
        else:
            a["outcome"] = str(kind)
            a["rel"] = a["rel"] or t
    return [a for a in found.values() if any(a[k] is not None for k in ("req", "acq", "rel"))]


def lock_lanes(events: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """Rows for the lock timeline SVG; None when no lock table exists."""
    if events is None:
        return None
    acquisitions = _acquisitions(events)
    times = [t for a in acquisitions for t in (a["req"], a["acq"], a["rel"]) if t is not None]
    if not times:
        return {"rows": [], "height": 0, "width": LANE_LABEL + LANE_AREA, "truncated": 0}
    start, end = min(times), max(times)
    scale = LANE_AREA / max(end - start, 1)
    acquisitions.sort(key=lambda a: (a["lock"], a["req"] or a["acq"] or a["rel"]))
    rows = []
    for i, a in enumerate(acquisitions[:MAX_ACQUISITIONS]):
        req = a["req"] if a["req"] is not None else a["acq"]
        acq = a["acq"]
        rel = a["rel"]

        def x(t: int) -> float:
            return float(round(LANE_LABEL + (t - start) * scale, 1))

        row: dict[str, Any] = {
            "y": i * LANE_ROW,
            "lock": a["lock"],
            "holder": a["holder"] or "",
            "outcome": a["outcome"],
            "wait": None,
            "hold": None,
        }
        if req is not None and (acq or rel) is not None:
            wait_end = acq if acq is not None else rel
            row["wait"] = {
                "x": x(req),
                "width": max(x(wait_end) - x(req), 1.0),
                "text": fmt_duration_ns(wait_end - req),
            }
        if acq is not None and rel is not None:
            row["hold"] = {
                "x": x(acq),
                "width": max(x(rel) - x(acq), 1.0),
                "text": fmt_duration_ns(rel - acq),
            }
        rows.append(row)
    return {
        "rows": rows,
        "height": len(rows) * LANE_ROW + 4,
        "width": LANE_LABEL + LANE_AREA,
        "label_width": LANE_LABEL,
        "truncated": max(len(acquisitions) - MAX_ACQUISITIONS, 0),
    }


def _patch(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    if not isinstance(value, list):
        return []
    ops = []
    for op in value[:MAX_OPS]:
        if isinstance(op, dict):
            shown = op.get("value", op.get("from"))
            ops.append(
                {
                    "op": str(op.get("op", "?")),
                    "path": str(op.get("path", "")),
                    "value": ""
                    if shown is None and "value" not in op
                    else json.dumps(shown, ensure_ascii=False)[:2000],
                }
            )
    return ops


def patch_ops(diffs: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Each state diff with its label, timing and patch operations; None when no table."""
    if diffs is None:
        return None
    out = []
    for d in diffs:
        out.append(
            {
                "label": str(d.get("label") or "state"),
                "time_ns": d.get("time_ns"),
                "span_id": d.get("span_id"),
                "status": d.get("status"),
                "truncated": bool(d.get("truncated")),
                "ops": _patch(d.get("patch")),
                "before": d.get("before"),
                "after": d.get("after"),
            }
        )
    return out
