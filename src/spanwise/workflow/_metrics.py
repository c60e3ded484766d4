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
    tokens_in = tokens_out = read = write = reasoning = without_usage = 0
    cost = 0.0
    unpriced: set[str] = set()
    for record in calls:
        c = record.call
        inp, out = c.input_tokens, c.output_tokens
        if inp is None or out is None:  # no usage: counted apart, never summed as 0
            without_usage += 1
            continue
        tokens_in += inp
        tokens_out += out
        read += c.cache_read_tokens or 0
        write += c.cache_write_tokens or 0
        reasoning += c.reasoning_tokens or 0
        if c.cost_usd is None:
            unpriced.add(c.model)
        else:
            cost += c.cost_usd
    totals: dict[str, Any] = {
        "cost_usd": None if unpriced else _cost(cost),
        "tokens_input": tokens_in,
        "tokens_output": tokens_out,
        "tokens_total": tokens_in + tokens_out,
    }
    for name, count in (
        ("cache_read_tokens", read),
        ("cache_write_tokens", write),
        ("reasoning_tokens", reasoning),
    ):
        if count:
            totals[name] = count
    if without_usage:
        totals["llm_calls_without_usage"] = without_usage
    if unpriced:
        totals["pricing_available"] = False
        totals["unavailable_models"] = sorted(unpriced)
        totals["partial_cost_usd"] = _cost(cost)
    return totals


def phase_metrics(
    events: list[NodeEvent],
    calls: list[CallRecord],
    duration_ns: int,
    totals: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One phase's section; ``totals`` when its ``usage_totals`` are already known."""
    totals = dict(usage_totals(calls) if totals is None else totals)
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
        "node_timings": {e.node_id: round(e.duration_ns / 1e6, 3) for e in events},
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
    total = usage_totals(calls)
    by_phase: dict[str, list[CallRecord]] = {}
    for c in calls:
        by_phase.setdefault(c.phase, []).append(c)
    sections: dict[str, Any] = {}
    for phase in PHASES:
        record = collector.phases.get(phase)
        if record is not None:
            phase_calls = by_phase.get(phase, [])
            sections[phase] = phase_metrics(
                collector.phase_events(phase),
                phase_calls,
                record.duration_ns(now),
                # one phase holding every call: its sums are the total's
                total if len(phase_calls) == len(calls) else None,
            )
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
