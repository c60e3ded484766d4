"""The ``efficiency`` table: the pipeline's writer, and the queries behind
``efficiency_stats`` and ``spanwise efficiency``.

Rows are unique per (run_id, phase_id, outcome). The writer upserts, so the same key
written twice, by one process or by several at once, leaves one row holding the latest
write (``created_ns`` keeps the first).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from spanwise.store._exporter import register_writer

COLUMNS = (
    "run_id",
    "phase_id",
    "outcome",
    "budget_mode",
    "context_budget_cap_tokens",
    "context_budget_selected_tokens_est",
    "files_kept",
    "files_omitted",
    "deliverables_count",
    "context_files_total",
    "over_budget",
    "artifact_substitutions_count",
    "artifact_tokens_used_est",
    "fullfile_tokens_avoided_est",
    "substituted_paths",
    "embedding_cache_hits",
    "embedding_cache_misses",
    "embedding_calls_made",
    "embedding_cap_value",
    "fallback_reason",
    "trace_id",
    "span_id",
)
_KEY = ("run_id", "phase_id", "outcome")


def upsert_sql(placeholder: str) -> str:
    cols = (*COLUMNS, "created_ns", "updated_ns")
    updates = ", ".join(f"{c} = excluded.{c}" for c in (*COLUMNS, "updated_ns") if c not in _KEY)
    marks = ", ".join([placeholder] * len(cols))
    return (
        f"INSERT INTO efficiency ({', '.join(cols)}) VALUES ({marks}) "
        f"ON CONFLICT (run_id, phase_id, outcome) DO UPDATE SET {updates}"
    )


def _row(record: Any) -> tuple[Any, ...]:
    values = []
    for col in COLUMNS:
        value = getattr(record, col)
        if col == "substituted_paths":
            value = json.dumps(list(value))
        elif col == "over_budget":
            value = 1 if value else 0
        values.append(value)
    return (*values, record.recorded_ns, record.recorded_ns)


def write_efficiency(cur: Any, records: Sequence[Any], placeholder: str) -> None:
    """The store writer for ``efficiency`` records (runs inside the batch transaction)."""
    cur.executemany(upsert_sql(placeholder), [_row(r) for r in records])


register_writer("efficiency", write_efficiency)


# -- reading -------------------------------------------------------------------------------
def has_table(db: Any) -> bool:
    if db.dialect == "postgresql":
        rows = db.query("SELECT to_regclass('efficiency') IS NOT NULL")
        return bool(rows and rows[0][0])
    rows = db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'efficiency'")
    return bool(rows)


def phase_rows(db: Any, run_id: str) -> list[dict[str, Any]]:
    """Every record of a run, in the order they were first written."""
    if not has_table(db):
        return []
    rows: list[dict[str, Any]] = db.query_dicts(
        f"SELECT {', '.join(COLUMNS)}, created_ns, updated_ns FROM efficiency "
        "WHERE run_id = ? ORDER BY created_ns, id",
        (run_id,),
    )
    for row in rows:
        row["over_budget"] = bool(row["over_budget"])
        try:
            row["substituted_paths"] = json.loads(row["substituted_paths"] or "[]")
        except ValueError:
            row["substituted_paths"] = []
    return rows


def recent_runs(db: Any, limit: int = 20) -> list[str]:
    """Run ids, most recently recorded first."""
    if not has_table(db):
        return []
    rows = db.query(
        "SELECT run_id, MAX(updated_ns) AS last FROM efficiency GROUP BY run_id "
        "ORDER BY last DESC LIMIT ?",
        (limit,),
    )
    return [str(r[0]) for r in rows]


def trace_rows(db: Any, trace_id: str) -> list[dict[str, Any]]:
    if not has_table(db):
        return []
    rows: list[dict[str, Any]] = db.query_dicts(
        f"SELECT {', '.join(COLUMNS)} FROM efficiency WHERE trace_id = ? ORDER BY created_ns",
        (trace_id,),
    )
    return rows


def stats_from_rows(run_id: str, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Totals, averages per phase execution, utilization, modes, outcomes, hit rate.

    The same keys for an empty run (zeros, empty counts, None for undefined rates).
    """
    n = len(rows)

    def total(col: str) -> int:
        return int(sum(r[col] or 0 for r in rows))

    used, cap = total("context_budget_selected_tokens_est"), total("context_budget_cap_tokens")
    hits, misses = total("embedding_cache_hits"), total("embedding_cache_misses")
    outcomes: dict[str, int] = {}
    fallbacks: dict[str, int] = {}
    for r in rows:
        outcomes[r["outcome"]] = outcomes.get(r["outcome"], 0) + 1
        if r["fallback_reason"]:
            fallbacks[r["fallback_reason"]] = fallbacks.get(r["fallback_reason"], 0) + 1
    substitutions = total("artifact_substitutions_count")
    avoided = total("fullfile_tokens_avoided_est")
    return {
        "run_id": run_id,
        "total_phases": n,
        "distinct_phases": len({r["phase_id"] for r in rows}),
        "total_artifact_substitutions": substitutions,
        "total_artifact_tokens_used_est": total("artifact_tokens_used_est"),
        "total_fullfile_tokens_avoided_est": avoided,
        "total_budget_selected_tokens_est": used,
        "total_budget_cap_tokens": cap,
        "total_files_kept": total("files_kept"),
        "total_files_omitted": total("files_omitted"),
        "total_embedding_cache_hits": hits,
        "total_embedding_cache_misses": misses,
        "total_embedding_calls": total("embedding_calls_made"),
        "embedding_cache_hit_rate": hits / (hits + misses) if hits + misses else None,
        "avg_artifact_substitutions_per_phase": substitutions / n if n else 0.0,
        "avg_fullfile_tokens_avoided_per_phase": avoided / n if n else 0.0,
        "avg_selected_tokens_per_phase": used / n if n else 0.0,
        "budget_utilization": used / cap if cap else 0.0,
        "over_budget_count": sum(1 for r in rows if r["over_budget"]),
        "semantic_mode_count": sum(1 for r in rows if r["budget_mode"] == "semantic"),
        "lexical_mode_count": sum(1 for r in rows if r["budget_mode"] == "lexical"),
        "fallback_reason_counts": fallbacks,
        "outcome_counts": outcomes,
    }
