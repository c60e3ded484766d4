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

SHORT_REASONS = {"disabled": "off", "cap_exceeded": "cap", "embedder_error": "error"}


def fmt_ratio(part: float, whole: float) -> str:
    return f"{part / whole:.0%}" if whole else "-"


def fmt_tokens(used: int, cap: int, over: bool = False) -> str:
    text = f"{fmt_int(used)}/{fmt_int(cap)} {fmt_ratio(used, cap)}"
    return text + (" [red]over[/]" if over else "")


def fmt_hit_rate(hits: int, misses: int, detail: bool = False) -> str:
    looked = hits + misses
    if not looked:
        return "-"
    return f"{hits / looked:.0%}" + (f" ({hits}/{looked})" if detail else "")


def fmt_calls(calls: int, cap: int | None) -> str:
    if cap is None:
        return str(calls) if calls else "-"
    return f"{calls}/{'∞' if cap < 0 else cap}"


def fmt_mode(mode: str, fallback: str | None) -> str:
    return f"{mode} ({SHORT_REASONS.get(fallback, fallback)})" if fallback else mode


def fmt_counts(counts: dict[str, int], short: bool = False) -> str:
    names = SHORT_REASONS if short else {}
    return ", ".join(f"{names.get(k, k)} {v}" for k, v in sorted(counts.items())) or "-"


def _table(columns: tuple[str, ...], left: tuple[str, ...]) -> Any:
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False)
    for col in columns:
        table.add_column(col, justify="left" if col in left else "right")
    return table


def _phase_table(rows: list[dict[str, Any]]) -> Any:
    table = _table(
        ("phase", "outcome", "mode", "tokens used/cap", "kept", "saved", "cache", "calls"),
        ("phase", "outcome", "mode"),
    )
    for r in rows:
        kept, omitted = r["files_kept"], r["files_omitted"]
        table.add_row(
            str(r["phase_id"]),
            str(r["outcome"]),
            fmt_mode(r["budget_mode"], r["fallback_reason"]),
            fmt_tokens(
                r["context_budget_selected_tokens_est"],
                r["context_budget_cap_tokens"],
                bool(r["over_budget"]),
            ),
            f"{kept}/{kept + omitted}",
            fmt_int(r["fullfile_tokens_avoided_est"]),
            fmt_hit_rate(r["embedding_cache_hits"], r["embedding_cache_misses"]),
            fmt_calls(r["embedding_calls_made"], r["embedding_cap_value"]),
        )
    return table


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _run_summary(stats: dict[str, Any]) -> str:
    used, cap = stats["total_budget_selected_tokens_est"], stats["total_budget_cap_tokens"]
    hits, misses = stats["total_embedding_cache_hits"], stats["total_embedding_cache_misses"]
    calls, over = stats["total_embedding_calls"], stats["over_budget_count"]
    lines = [
        f"run {stats['run_id']}: {_plural(stats['total_phases'], 'phase record')}, "
        f"semantic {stats['semantic_mode_count']} / lexical {stats['lexical_mode_count']}",
        f"  outcomes: {fmt_counts(stats['outcome_counts'])}",
        f"  budget: {fmt_int(used)}/{fmt_int(cap)} tokens selected ({fmt_ratio(used, cap)})"
        + (f"; pinned files alone over budget in {_plural(over, 'phase')}" if over else ""),
        f"  artifacts: {_plural(stats['total_artifact_substitutions'], 'substitution')}, "
        f"{fmt_int(stats['total_fullfile_tokens_avoided_est'])} tokens avoided",
    ]
    if hits or misses or calls:
        lines.append(
            f"  embeddings: cache hit rate {fmt_hit_rate(hits, misses, detail=True)}, "
            f"{_plural(calls, 'call')}"
        )
    if stats["fallback_reason_counts"]:
        lines.append(f"  lexical fallbacks: {fmt_counts(stats['fallback_reason_counts'])}")
    return "\n".join(lines)


def _runs_table(all_stats: list[dict[str, Any]]) -> Any:
    table = _table(
        (
            "run",
            "phases",
            "sem/lex",
            "tokens used/cap",
            "saved",
            "cache",
            "calls",
            "fallbacks",
            "outcomes",
        ),
        ("run", "fallbacks", "outcomes"),
    )
    for s in all_stats:
        table.add_row(
            str(s["run_id"]),
            str(s["total_phases"]),
            f"{s['semantic_mode_count']}/{s['lexical_mode_count']}",
            fmt_tokens(s["total_budget_selected_tokens_est"], s["total_budget_cap_tokens"]),
            fmt_int(s["total_fullfile_tokens_avoided_est"]),
            fmt_hit_rate(s["total_embedding_cache_hits"], s["total_embedding_cache_misses"]),
            str(s["total_embedding_calls"]),
            fmt_counts(s["fallback_reason_counts"], short=True),
            fmt_counts(s["outcome_counts"]),
        )
    return table


@click.command("efficiency")
@click.option("--run", "run_id", help="One run: its phases and totals.")
@click.option(
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="How many recent runs to list.",
)
@json_option
@store_option
def efficiency_cmd(run_id: str | None, limit: int, as_json: bool, store_url: str | None) -> None:
    """Token efficiency per run, or per phase of one run: tokens selected against the
    budget (utilization), tokens saved by artifacts, embedding cache hit rate, embedding
    calls against the per-phase cap, and why ranking fell back to lexical
    (off = cap 0, cap = cap exceeded, error = embedder failed)."""
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
        out.print(_run_summary(stats), highlight=False)
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
