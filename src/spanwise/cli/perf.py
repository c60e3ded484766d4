"""``spanwise perf`` (where time goes across recent traces, by span name) and
``spanwise perf show ID`` (one trace, with its bottleneck named)."""

from __future__ import annotations

from typing import Any

import click

from spanwise.cli._common import (
    console,
    fmt_cost,
    fmt_duration_ns,
    json_option,
    open_store,
    parse_since,
    print_json,
    store_option,
)


@click.group("perf", invoke_without_command=True)
@click.option("--since", help="Only traces that started in this window: 30m, 1h, 7d, or a date.")
@click.option(
    "--traces",
    "max_traces",
    default=50,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="How many recent traces to look at.",
)
@click.option("--name", help="Only traces whose name contains this text.")
@json_option
@store_option
@click.pass_context
def perf_group(
    ctx: click.Context,
    since: str | None,
    max_traces: int,
    name: str | None,
    as_json: bool,
    store_url: str | None,
) -> None:
    """Where time goes across recent traces, by span name (self time first)."""
    if ctx.invoked_subcommand is not None:
        return
    from spanwise.debug._perf import where_time_goes

    data = where_time_goes(
        open_store(store_url), since_ns=parse_since(since), traces=max_traces, name=name
    )
    if as_json:
        print_json(data)
        return
    out = console()
    if not data["traces"]:
        out.print("no traces recorded" + (" in this window" if since or name else ""))
        return
    from rich.markup import escape
    from rich.table import Table

    out.print(
        f"[bold]Where time goes[/] across {data['traces']} trace(s), "
        f"{fmt_duration_ns(data['wall_ns'])} in all"
    )
    table = Table(box=None, header_style="bold")
    for col in (
        "span",
        "kind",
        "calls",
        "self time",
        "share",
        "total",
        "p50",
        "p95",
        "max",
        "errors",
    ):
        table.add_column(col, justify="left" if col in ("span", "kind") else "right")
    for r in data["by_name"]:
        table.add_row(
            escape(r["name"]),
            r["kind"],
            str(r["count"]),
            fmt_duration_ns(r["self_ns"]),
            f"{100 * r['share']:.0f}%",
            fmt_duration_ns(r["total_ns"]),
            fmt_duration_ns(r["p50_ns"]),
            fmt_duration_ns(r["p95_ns"]),
            fmt_duration_ns(r["max_ns"]),
            f"[red]{r['errors']}[/]" if r["errors"] else "0",
        )
    out.print(table)
    _print_lock_wait(out, data["lock_wait_ns"])


@perf_group.command("show")
@click.argument("trace_id")
@json_option
@store_option
def show_cmd(trace_id: str, as_json: bool, store_url: str | None) -> None:
    """The breakdown of one trace: each span's self time and share, the bottleneck named."""
    from spanwise.debug._perf import trace_breakdown
    from spanwise.store._queries import resolve_trace_id

    db = open_store(store_url)
    data = trace_breakdown(db, resolve_trace_id(db, trace_id))
    if as_json:
        print_json(data)
        return
    from rich.markup import escape
    from rich.table import Table

    out = console()
    trace = data["trace"]
    out.print(
        f"[bold]{escape(trace['name'] or '(unnamed)')}[/] [dim]{trace['trace_id']}[/] "
        f"{fmt_duration_ns(data['wall_ns'])}, {trace['span_count']} spans"
    )
    neck = data["bottleneck"]
    if neck is not None:
        calls = f" ×{neck['count']}" if neck["count"] > 1 else ""
        out.print(
            f"[bold red]Bottleneck:[/] [bold]{escape(neck['name'])}[/]{calls} "
            f"({neck['kind']}): {fmt_duration_ns(neck['self_ns'])} of self time, "
            f"{100 * neck['share']:.0f}% of the trace"
        )
        if neck.get("uncovered"):
            out.print(
                "  [dim]that is time outside every child span: add spans inside "
                f"{escape(neck['name'])} to see where it goes[/]"
            )
    table = Table(box=None, header_style="bold")
    for col in ("span", "kind", "duration", "self time", "share", "model", "cost", "status"):
        table.add_column(
            col, justify="right" if col in ("duration", "self time", "share", "cost") else "left"
        )
    for r in data["spans"]:
        table.add_row(
            escape(r["name"]),
            r["kind"],
            fmt_duration_ns(r["duration_ns"]),
            fmt_duration_ns(r["self_ns"]),
            f"{100 * r['share']:.0f}%",
            escape(r["model"] or ""),
            fmt_cost(r["cost_usd"], 1 if r["model"] and r["cost_usd"] is None else 0)
            if r["model"]
            else "",
            "[red]error[/]" if r["status"] == "error" else "ok",
        )
    out.print(table)
    _print_lock_wait(out, data["lock_wait_ns"])


def _print_lock_wait(out: Any, waits: dict[str, int]) -> None:
    from rich.markup import escape

    if waits:
        parts = ", ".join(
            f"{escape(k)} {fmt_duration_ns(v)}"
            for k, v in sorted(waits.items(), key=lambda kv: -kv[1])
        )
        out.print(
            f"waiting for locks (inside the spans above): {parts} "
            "[dim](spanwise locks --trace ID)[/]"
        )


def register(group: click.Group) -> None:
    group.add_command(perf_group)
