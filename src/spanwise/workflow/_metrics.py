"""The ``--output-format json`` envelope: result, duration, cost and per-phase metrics.

Every LLM call accumulates (nothing overwrites). A call without usage is skipped in the
token and cost sums. A call whose model has no price makes the cost ``null`` — never $0 —
with ``pricing_available: false``, ``unavailable_models`` and ``partial_cost_usd``.
"""

from __future__ import annotations

from typing import Any

from spanwise.workflow._collector import CallRecord, RunCollector
from spanwise.workflow._wrappers import NodeEvent

PHASES = ("planner", "workflow")


def _ms(ns: int) -> float:
    return round(ns / 1e6, 3)


def _cost(value: float) -> float:
    return round(value, 10)


def price_calls(calls: list[CallRecord]) -> None:
    """Price calls the pipeline has not priced yet (it normally has)."""
    pending = [c.call for c in calls if not c.call.priced]
    if not pending:
        return
    from spanwise._pricing import Pricer
    from spanwise._setup import STATE

    pricer = STATE.pricer or Pricer()
    for call in pending:
        price = pricer.price(call)
        call.cost_usd, call.pricing_available = price.cost_usd, price.available
        call.price_source, call.price_version = price.source, price.version
        call.priced = True


def usage_totals(calls: list[CallRecord]) -> dict[str, Any]:
    """Token and cost sums over calls that reported usage, with the unpriced rule."""
    used = [c.call for c in calls if c.call.usage_known]
    tokens_in = sum(c.input_tokens for c in used)
    tokens_out = sum(c.output_tokens for c in used)
    cost = sum(c.cost_usd for c in used if c.cost_usd is not None)
    unpriced = sorted({c.model for c in used if c.cost_usd is None})
    totals: dict[str, Any] = {
        "cost_usd": None if unpriced else _cost(cost),
        "tokens_input": tokens_in,
        "tokens_output": tokens_out,
        "tokens_total": tokens_in + tokens_out,
    }
    for name in ("cache_read_tokens", "cache_write_tokens", "reasoning_tokens"):
        count = sum(getattr(c, name) or 0 for c in used)
        if count:
            totals[name] = count
    without_usage = len(calls) - len(used)
    if without_usage:
        totals["llm_calls_without_usage"] = without_usage
    if unpriced:
        totals["pricing_available"] = False
        totals["unavailable_models"] = unpriced
        totals["partial_cost_usd"] = _cost(cost)
    return totals


def phase_metrics(
    events: list[NodeEvent], calls: list[CallRecord], duration_ns: int
) -> dict[str, Any]:
    totals = usage_totals(calls)
    models: dict[str, None] = {}
    for c in calls:
        models.setdefault(c.call.model, None)
    section: dict[str, Any] = {
        "duration_ms": _ms(duration_ns),
        "nodes_executed": len(events),
        "cost_usd": totals.pop("cost_usd"),
        "tokens_input": totals.pop("tokens_input"),
        "tokens_output": totals.pop("tokens_output"),
        "tokens_total": totals.pop("tokens_total"),
        "models_used": list(models),
        "node_timings": {e.node_id: _ms(e.duration_ns) for e in events},
        "llm_calls": len(calls),
    }
    section.update(totals)
    return section


def envelope(collector: RunCollector, *, result: Any, error: str | None) -> dict[str, Any]:
    """The whole JSON document printed for a run (also for a failed one)."""
    collector.finish()
    calls = collector.calls()
    price_calls(calls)
    now = collector.clock()
    sections: dict[str, Any] = {}
    for phase in PHASES:
        record = collector.phases.get(phase)
        if record is not None:
            sections[phase] = phase_metrics(
                collector.phase_events(phase),
                [c for c in calls if c.phase == phase],
                record.duration_ns(now),
            )
    total = usage_totals(calls)
    planner = collector.phases.get("planner")
    doc: dict[str, Any] = {
        "result": result,
        "is_error": error is not None,
        "duration_ms": _ms(collector.elapsed_ns()),
        "duration_planner_ms": _ms(planner.duration_ns(now)) if planner else None,
        "total_cost_usd": total["cost_usd"],
        "num_nodes": sum(s["nodes_executed"] for s in sections.values()),
        "metrics": {**sections, "total": total},
    }
    if total.get("pricing_available") is False:
        doc["pricing_available"] = False
        doc["unavailable_models"] = total["unavailable_models"]
        doc["partial_cost_usd"] = total["partial_cost_usd"]
    if error is not None:
        doc["error"] = error
    return doc
