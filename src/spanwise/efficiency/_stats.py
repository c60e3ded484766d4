"""``efficiency_stats(run)`` and ``efficiency_records(run)``: read back from the store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from spanwise.efficiency._store import phase_rows, stats_from_rows

T = TypeVar("T")


def _with_store(store: str | None, read: Callable[[Any], T], empty: T) -> T:
    """Run ``read(db)`` on the store in use (or ``store``); ``empty`` when there is none."""
    from spanwise._runtime import RT
    from spanwise._settings import resolve
    from spanwise._setup import flush
    from spanwise.store import open_database

    if RT.mode == "trace":
        flush()
    settings = RT.settings
    url = store or (settings.store if settings is not None and settings.store else None)
    if url is None:
        url = resolve("off").store or ""
    if url.startswith("sqlite://") and not Path(url[len("sqlite://") :]).exists():
        return empty
    db = open_database(url, readonly=True)
    try:
        return read(db)
    finally:
        db.close()


def efficiency_records(run: str, *, store: str | None = None) -> list[dict[str, Any]]:
    """Every stored record of ``run`` (one per phase and outcome), oldest first."""
    return _with_store(store, lambda db: phase_rows(db, run), [])


def efficiency_stats(run: str, *, store: str | None = None) -> dict[str, Any]:
    """Totals and averages of a run's efficiency records.

    Keys: ``run_id``, ``total_phases`` (records), ``distinct_phases``, totals of every
    counter, ``embedding_cache_hit_rate`` (None without lookups), averages per phase,
    ``budget_utilization`` (selected ÷ cap, 0.0 with no cap), ``semantic_mode_count``,
    ``lexical_mode_count``, ``fallback_reason_counts`` and ``outcome_counts``. A run with
    no records has the same keys, zeroed. In ``trace`` mode pending records are flushed
    first.
    """
    if not isinstance(run, str) or not run:
        raise ValueError(f"run must be a non-empty string, not {run!r}")
    rows = efficiency_records(run, store=store)
    return stats_from_rows(run, rows)
