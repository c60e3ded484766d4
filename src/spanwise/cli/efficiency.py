"""``spanwise efficiency [--run ID]``: context budget use, tokens avoided, cache hit rates."""

from __future__ import annotations

from typing import Any

import click

from spanwise.cli._common import (
    CliError,
    console,
    fmt_int,
    json_option,
    open_store,
    print_json,
    store_option,
)


def fmt_ratio(part: float, whole: float) -> str:
    return f"{part / whole:.0%}" if whole else "-"


def fmt_hit_rate(hits: int, misses: int) -> str:
    looked = hits + misses
    return f"{hits / looked:.0%} ({hits}/{looked})" if looked else "-"


def fmt_calls(calls: int, cap: int | None) -> str:
    if cap is None:
        return str(calls) if calls else "-"
    return f"{calls}/{'∞' if cap < 0 else cap}"


def fmt_mode(mode: str, fallback: str | None) -> str:
    return f"{mode} ({fallback})" if fallback else mode


def _phase_table(rows: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for col in ("phase", "outcome", "mode", "used/cap", "util", "kept", "omitted", "artifacts",
                "avoided", "cache hits", "calls"):
        table.add_column(col, justify="left" if col in ("phase", "outcome", "mode") else "right")
    for r in rows:
        used, cap = r["context_budget_selected_tokens_est"], r["context_budget_cap_tokens"]
        over = " [red]over[/]" if r["over_budget"] else ""
        table.add_row(
            str(r["phase_id"]),
            str(r["outcome"]),
            fmt_mode(r["budget_mode"], r["fallback_reason"]),
            f"{fmt_int(used)}/{fmt_int(cap)}",
            fmt_ratio(used, cap) + over,
            str(r["files_kept"]),
            str(r["files_omitted"]),
            str(r["artifact_substitutions_count"]),
            fmt_int(r["fullfile_tokens_avoided_est"]),
            fmt_hit_rate(r["embedding_cache_hits"], r["embedding_cache_misses"]),
            fmt_calls(r["embedding_calls_made"], r["embedding_cap_value"]),
        )
    return table


def _run_line(stats: dict[str, Any]) -> str:
    used, cap = stats["total_budget_selected_tokens_est"], stats["total_budget_cap_tokens"]
    hits, misses = stats["total_embedding_cache_hits"], stats["total_embedding_cache_misses"]
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(stats["outcome_counts"].items())) or "-"
    return (
        f"run {stats['run_id']}: {stats['total_phases']} phase records, "
        f"{fmt_int(used)}/{fmt_int(cap)} tokens ({fmt_ratio(used, cap)} of budget), "
        f"{fmt_int(stats['total_fullfile_tokens_avoided_est'])} tokens avoided by "
        f"{stats['total_artifact_substitutions']} artifacts, cache hit rate "
        f"{fmt_hit_rate(hits, misses)}, {stats['total_embedding_calls']} embedding calls, "
        f"semantic {stats['semantic_mode_count']} / lexical {stats['lexical_mode_count']}; "
        f"outcomes: {outcomes}"
    )


def _runs_table(all_stats: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for col in ("run", "phases", "semantic", "lexical", "used/cap", "util", "avoided", "artifacts",
                "cache hits", "calls", "fallbacks", "outcomes"):
        left = col in ("run", "fallbacks", "outcomes")
        table.add_column(col, justify="left" if left else "right")
    for s in all_stats:
        used, cap = s["total_budget_selected_tokens_est"], s["total_budget_cap_tokens"]
        table.add_row(
            str(s["run_id"]),
            str(s["total_phases"]),
            str(s["semantic_mode_count"]),
            str(s["lexical_mode_count"]),
            f"{fmt_int(used)}/{fmt_int(cap)}",
            fmt_ratio(used, cap),
            fmt_int(s["total_fullfile_tokens_avoided_est"]),
            str(s["total_artifact_substitutions"]),
            fmt_hit_rate(s["total_embedding_cache_hits"], s["total_embedding_cache_misses"]),
            str(s["total_embedding_calls"]),
            ", ".join(f"{k} {v}" for k, v in sorted(s["fallback_reason_counts"].items())) or "-",
            ", ".join(f"{k} {v}" for k, v in sorted(s["outcome_counts"].items())) or "-",
        )
    return table


@click.command("efficiency")
@click.option("--run", "run_id", help="One run: its phases and totals.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000),
              help="How many recent runs to list.")
@json_option
@store_option
def efficiency_cmd(run_id: str | None, limit: int, as_json: bool, store_url: str | None) -> None:
    """Token efficiency per run, or per phase of one run: budget used and its
    utilization, tokens avoided by artifacts, embedding cache hit rate and calls."""
    from spanwise.efficiency._store import phase_rows, recent_runs, stats_from_rows

    db = open_store(store_url)
    out = console()
    if run_id is not None:
        rows = phase_rows(db, run_id)
        if not rows:
            raise CliError(f"no efficiency records for run {run_id!r}")
        stats = stats_from_rows(run_id, rows)
        if as_json:
            print_json({"run": stats, "phases": rows})
            return
        out.print(_phase_table(rows))
        out.print(_run_line(stats))
        return
    all_stats = [stats_from_rows(r, phase_rows(db, r)) for r in recent_runs(db, limit)]
    if as_json:
        print_json(all_stats)
        return
    if not all_stats:
        out.print("no efficiency records yet (spanwise.efficiency.record_efficiency writes them)")
        return
    out.print(_runs_table(all_stats))


def trace_section(db: Any, trace_id: str) -> tuple[str, Any, Any]:
    """The efficiency records of one trace, under ``spanwise trace ID``."""
    from spanwise.efficiency._store import trace_rows

    rows = trace_rows(db, trace_id)
    if not rows:
        return "efficiency", [], None
    for row in rows:
        row["over_budget"] = bool(row["over_budget"])
    from rich.console import Group
    from rich.text import Text

    return "efficiency", rows, Group(Text("token efficiency", style="bold"), _phase_table(rows))


def register(group: click.Group) -> None:
    from spanwise.cli.traces import TRACE_SECTIONS

    group.add_command(efficiency_cmd)
    if trace_section not in TRACE_SECTIONS:
        TRACE_SECTIONS.append(trace_section)
