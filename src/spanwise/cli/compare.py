"""``spanwise compare ID1 ID2``: spans added, missing, slower or costlier, errors that
differ between two runs."""

from __future__ import annotations

from typing import Any

import click

from spanwise.cli._common import (
    console,
    fmt_cost,
    fmt_duration_ns,
    fmt_int,
    json_option,
    open_store,
    print_json,
    store_option,
)


@click.command("compare")
@click.argument("first")
@click.argument("second")
@click.option(
    "--ratio",
    default=1.2,
    show_default=True,
    type=click.FloatRange(min=1.0),
    help="A span is slower when it took this many times longer…",
)
@click.option(
    "--min-ms",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="…and at least this many milliseconds more.",
)
@json_option
@store_option
def compare_cmd(
    first: str, second: str, ratio: float, min_ms: float, as_json: bool, store_url: str | None
) -> None:
    """What differs between two runs (trace ids or prefixes), matched span by span."""
    from spanwise.debug._compare import compare_traces
    from spanwise.store._queries import resolve_trace_id

    db = open_store(store_url)
    a, b = resolve_trace_id(db, first), resolve_trace_id(db, second)
    data = compare_traces(db, a, b, ratio=ratio, min_ns=int(min_ms * 1e6))
    if as_json:
        print_json(data)
        return
    out = console()
    _summary(out, data["a"], data["b"])
    _section(
        out,
        "Added in B",
        data["added"],
        lambda r: f"+ {r['path']} ({fmt_duration_ns(r['duration_ns'])})",
    )
    _section(
        out,
        "Missing in B",
        data["missing"],
        lambda r: f"- {r['path']} ({fmt_duration_ns(r['duration_ns'])})",
    )
    _section(
        out,
        "Slower in B",
        data["slower"],
        lambda r: (
            f"{r['path']}: {fmt_duration_ns(r['a_ns'])} → {fmt_duration_ns(r['b_ns'])} "
            f"(+{fmt_duration_ns(r['delta_ns'])}" + (f", {r['ratio']:.1f}×)" if r["ratio"] else ")")
        ),
    )
    _section(
        out,
        "Costlier in B",
        data["costlier"],
        lambda r: (
            f"{r['path']}: {fmt_cost(r['a_cost_usd'], 1 if r['a_cost_usd'] is None else 0)} → "
            f"{fmt_cost(r['b_cost_usd'], 1 if r['b_cost_usd'] is None else 0)}, "
            f"{fmt_int(r['a_tokens'])} → {fmt_int(r['b_tokens'])} tokens"
        ),
    )
    _section(
        out,
        "Errors that differ",
        data["errors"],
        lambda r: f"{r['path']}: A {r['a'] or 'ok'} | B {r['b'] or 'ok'}",
    )
    reports = data["error_reports"]
    labels = (("only_a", "error reports only in A"), ("only_b", "error reports only in B"))
    for key, label in labels:
        if reports[key]:
            _section(out, label.capitalize(), reports[key], lambda r: str(r))
    if not any(data[k] for k in ("added", "missing", "slower", "costlier", "errors")) and not (
        reports["only_a"] or reports["only_b"]
    ):
        out.print("\nno differences in spans, timings (beyond the thresholds), costs or errors")


def _summary(out: Any, a: dict[str, Any], b: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for col in ("", "trace", "name", "duration", "spans", "LLM calls", "tokens", "cost", "errors"):
        table.add_column(
            col,
            justify="right"
            if col in ("duration", "spans", "LLM calls", "tokens", "cost", "errors")
            else "left",
        )
    for label, t in (("A", a), ("B", b)):
        table.add_row(
            label,
            t["trace_id"][:12],
            escape(t["name"] or "(unnamed)"),
            fmt_duration_ns(t["duration_ns"]),
            str(t["spans"]),
            str(t["llm_calls"]),
            fmt_int(t["tokens"]),
            fmt_cost(t["cost_usd"], t["unpriced_calls"]),
            f"[red]{t['errors']}[/]" if t["errors"] else "0",
        )
    out.print(table)
    if a["duration_ns"]:
        change = 100 * (b["duration_ns"] - a["duration_ns"]) / a["duration_ns"]
        out.print(f"B took {change:+.0f}% time compared with A")


def _section(out: Any, title: str, rows: list[Any], line: Any) -> None:
    from rich.markup import escape

    if not rows:
        return
    out.print(f"\n[bold]{title}[/] ({len(rows)})")
    for r in rows:
        out.print(f"  {escape(line(r))}")


def register(group: click.Group) -> None:
    group.add_command(compare_cmd)
