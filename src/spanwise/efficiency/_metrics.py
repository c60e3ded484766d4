"""Per-phase efficiency metrics: one compact record per (run, phase, outcome).

``record_efficiency(selection, outcome=…)`` does three things, and never raises for
anything but bad arguments:

1. logs one compact JSON line on the ``spanwise.efficiency`` logger (INFO), in every
   mode — counts and at most 10 paths, never file contents;
2. emits a ``budget`` span (``efficiency <phase>``) carrying the metrics, so they show in
   the trace (in ``metrics`` mode the span feeds the in-memory summary);
3. in ``trace`` mode, sends the record through the pipeline into the ``efficiency``
   table, where a UNIQUE (run_id, phase_id, outcome) constraint and an upsert keep one
   row per key however many processes write it (the latest write wins).

In ``off`` mode only the log line is produced; nothing is written.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, replace
from typing import Any, ClassVar

from spanwise import _internal
from spanwise._ids import format_span_id, format_trace_id
from spanwise._runtime import RT
from spanwise._span import Span, current
from spanwise.efficiency import _store  # noqa: F401 - registers the store writer
from spanwise.efficiency._artifacts import MAX_PATHS, cap_paths
from spanwise.efficiency._select import Selection

logger = logging.getLogger("spanwise.efficiency")

MAX_ID_CHARS = 200


@dataclass(frozen=True)
class EfficiencyRecord:
    """The row of the ``efficiency`` table for one (run, phase, outcome)."""

    record_type: ClassVar[str] = "efficiency"

    run_id: str
    phase_id: str
    outcome: str
    budget_mode: str = "unknown"
    context_budget_cap_tokens: int = 0
    context_budget_selected_tokens_est: int = 0
    files_kept: int = 0
    files_omitted: int = 0
    deliverables_count: int = 0
    context_files_total: int = 0
    over_budget: bool = False
    artifact_substitutions_count: int = 0
    artifact_tokens_used_est: int = 0
    fullfile_tokens_avoided_est: int = 0
    substituted_paths: tuple[str, ...] = field(default_factory=tuple)
    embedding_cache_hits: int = 0
    embedding_cache_misses: int = 0
    embedding_calls_made: int = 0
    embedding_cap_value: int | None = None
    fallback_reason: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    recorded_ns: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["substituted_paths"] = list(self.substituted_paths)
        data["record_type"] = self.record_type
        return data

    def log_line(self) -> str:
        """The compact one-line JSON form (no trace ids, no timestamps)."""
        data = self.to_dict()
        for key in ("record_type", "trace_id", "span_id", "recorded_ns"):
            data.pop(key)
        return json.dumps({"event": "token_efficiency", **data}, separators=(",", ":"))


def record_efficiency(
    selection: Selection | None = None,
    *,
    outcome: str,
    run: str | None = None,
    phase: str | None = None,
) -> EfficiencyRecord:
    """Record the efficiency of one phase execution; returns the record.

    ``run`` and ``phase`` default to the selection's; ``run`` falls back to the current
    trace id. With no selection (the phase ended before choosing context) the record has
    ``budget_mode="unknown"`` and zero counts.
    """
    run_id = run or (selection.run if selection else None) or _current_trace_hex()
    phase_id = phase or (selection.phase if selection else None)
    run_id = _check_id("run", run_id)
    phase_id = _check_id("phase", phase_id)
    if not isinstance(outcome, str) or not outcome.strip() or len(outcome) > MAX_ID_CHARS:
        raise ValueError(f"outcome must be a non-empty string (e.g. 'COMPLETE'), not {outcome!r}")
    metrics = selection.metrics() if selection is not None else {}
    metrics["substituted_paths"] = cap_paths(metrics.get("substituted_paths", ()), MAX_PATHS)
    record = EfficiencyRecord(run_id, phase_id, outcome.strip(), **metrics)
    try:
        record = _emit(record)
        logger.info("%s", record.log_line())
    except Exception as exc:  # noqa: BLE001 - metrics never break the phase
        _internal.report("efficiency.record", exc)
    return record


def _current_trace_hex() -> str | None:
    parent = current.get()
    return format_trace_id(parent.trace_id) if parent is not None and parent.span_id else None


def _check_id(name: str, value: str | None) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS:
        hint = " (pass run=… or call inside a span)" if name == "run" else ""
        raise ValueError(
            f"{name} must be a non-empty string of at most {MAX_ID_CHARS} chars, "
            f"not {value!r}{hint}"
        )
    return value


def _emit(record: EfficiencyRecord) -> EfficiencyRecord:
    """The ``budget`` span, then (trace mode) the record itself, linked to that span."""
    rt = RT
    if rt.emit is None:
        return record
    attrs: dict[str, Any] = {
        f"efficiency.{k}": v
        for k, v in record.to_dict().items()
        if v is not None and k not in ("record_type", "trace_id", "span_id", "recorded_ns")
    }
    with Span(f"efficiency {record.phase_id}", attrs, "budget") as s:
        pass
    linked = replace(
        record,
        trace_id=format_trace_id(s.trace_id) if s.span_id else None,
        span_id=format_span_id(s.span_id) if s.span_id else None,
        recorded_ns=s.end_ns or rt.now_ns(),
    )
    emit = rt.emit
    if rt.mode == "trace" and emit is not None:
        emit(linked)
    return linked
