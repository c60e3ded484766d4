"""Cost over time without re-reading every LLM call on every page view.

The server keeps, per store, hourly sums per model (calls, tokens, cost, unpriced calls)
and brings them up to date on each request by reading only the calls with an id above
the last one it saw. Before trusting the increment it checks the table's row count and
id sum: a prune, or a PostgreSQL transaction that committed late with lower ids, makes
them disagree and the sums are rebuilt from scratch. They are also rebuilt every few
minutes regardless, so nothing can drift. Day and hour charts are sums of hours (UTC).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from spanwise.store._database import Database

HOUR_NS = 3_600 * 10**9
FULL_REBUILD_S = 300.0
_SUMS = (
    "COUNT(*), COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), "
    "COALESCE(SUM(cost_usd), 0), SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END), "
    "COALESCE(SUM(id), 0), COALESCE(MAX(id), 0)"
)
_GROUPED = (
    f"SELECT start_ns / {HOUR_NS} AS hour, COALESCE(response_model, request_model) AS model, "
    f"{_SUMS} FROM llm_calls"
)


class CostRollup:
    """Hourly cost sums of one store, kept current incrementally (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.hours: dict[tuple[int, str | None], list[Any]] = {}
        self.count = 0
        self.id_sum = 0
        self.max_id = 0
        self.built_at = 0.0
        self.rebuilds = 0

    def _add(self, rows: list[tuple[Any, ...]]) -> tuple[int, int, int]:
        count = id_sum = max_id = 0
        for hour, model, calls, inp, out, cost, unpriced, ids, top in rows:
            slot = self.hours.setdefault((int(hour), model), [0, 0, 0, 0.0, 0])
            slot[0] += calls
            slot[1] += inp
            slot[2] += out
            slot[3] += float(cost)
            slot[4] += unpriced
            count += calls
            id_sum += ids
            max_id = max(max_id, top)
        return count, id_sum, max_id

    def _rebuild(self, db: Database) -> None:
        self.hours = {}
        self.count, self.id_sum, self.max_id = self._add(db.query(f"{_GROUPED} GROUP BY 1, 2"))
        self.built_at = time.monotonic()
        self.rebuilds += 1

    def refresh(self, db: Database) -> None:
        if not self.built_at or time.monotonic() - self.built_at > FULL_REBUILD_S:
            self._rebuild(db)
            return
        new = db.query(f"{_GROUPED} WHERE id > ? GROUP BY 1, 2", (self.max_id,))
        count = sum(r[2] for r in new)
        id_sum = sum(r[7] for r in new)
        max_id = max((r[8] for r in new), default=0)
        total, total_ids = db.query("SELECT COUNT(*), COALESCE(SUM(id), 0) FROM llm_calls")[0]
        if total != self.count + count or total_ids != self.id_sum + id_sum:
            self._rebuild(db)
            return
        self._add(new)
        self.count, self.id_sum = total, total_ids
        self.max_id = max(self.max_id, max_id)

    def series(self, db: Database, since_ns: int | None, bucket_ns: int) -> list[dict[str, Any]]:
        """Rows like ``cost_over_time``: one per (bucket, model), buckets in time order.
        ``bucket_ns`` must be a whole number of hours; buckets that overlap the window
        are included whole."""
        if bucket_ns % HOUR_NS:
            raise ValueError("bucket_ns must be a whole number of hours")
        with self._lock:
            self.refresh(db)
            hours = list(self.hours.items())
        first = None if since_ns is None else since_ns - since_ns % bucket_ns
        merged: dict[tuple[int, str | None], list[Any]] = {}
        for (hour, model), sums in hours:
            bucket = hour * HOUR_NS
            bucket -= bucket % bucket_ns
            if first is not None and bucket < first:
                continue
            slot = merged.setdefault((bucket, model), [0, 0, 0, 0.0, 0])
            for i in range(5):
                slot[i] += sums[i]
        return [
            {
                "bucket": bucket,
                "model": model,
                "calls": s[0],
                "input_tokens": s[1],
                "output_tokens": s[2],
                "cost_usd": s[3],
                "unpriced_calls": s[4],
            }
            for (bucket, model), s in sorted(
                merged.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")
            )
            if s[0]
        ]


_rollups: dict[str, CostRollup] = {}
_rollups_lock = threading.Lock()


def rollup_for(url: str) -> CostRollup:
    """The process-wide rollup of the store at ``url``."""
    with _rollups_lock:
        found = _rollups.get(url)
        if found is None:
            found = _rollups[url] = CostRollup()
        return found
