"""Token-efficiency records grouped per run, read from the ``efficiency`` table when it
exists. Only columns that are present are used, so the page keeps working as that
table grows."""

from __future__ import annotations

from typing import Any

from spanwise.store._dashboard_queries import table_columns
from spanwise.store._database import Database

MAX_ROWS = 5_000
# Columns summed per run when present; everything else is shown per phase.
SUMMED = (
    "context_budget_cap_tokens",
    "context_budget_selected_tokens_est",
    "files_kept",
    "files_omitted",
    "artifact_substitutions_count",
    "artifact_tokens_used_est",
    "fullfile_tokens_avoided_est",
    "embedding_cache_hits",
    "embedding_cache_misses",
    "embedding_calls_made",
)


def efficiency_runs(db: Database) -> dict[str, Any]:
    columns = table_columns(db, "efficiency")
    if not columns or "run_id" not in columns:
        return {"available": False, "columns": [], "runs": []}
    order = next((c for c in ("updated_ns", "created_ns", "id") if c in columns), None)
    order_sql = f" ORDER BY {order} DESC" if order else ""
    rows = db.query_dicts(f"SELECT * FROM efficiency{order_sql} LIMIT ?", (MAX_ROWS,))
    runs: dict[str, dict[str, Any]] = {}
    summed = [c for c in SUMMED if c in columns]
    for row in rows:
        run = runs.setdefault(
            str(row["run_id"]),
            {"run_id": str(row["run_id"]), "phases": [], **dict.fromkeys(summed, 0)},
        )
        run["phases"].append(row)
        for key in summed:
            value = row.get(key)
            if isinstance(value, (int, float)):
                run[key] += value
    for run in runs.values():
        hits, misses = run.get("embedding_cache_hits"), run.get("embedding_cache_misses")
        if isinstance(hits, (int, float)) and isinstance(misses, (int, float)) and hits + misses:
            run["embedding_cache_hit_rate"] = hits / (hits + misses)
        run["fallbacks"] = sum(1 for p in run["phases"] if p.get("fallback_reason"))
    return {"available": True, "columns": list(columns), "runs": list(runs.values())}
