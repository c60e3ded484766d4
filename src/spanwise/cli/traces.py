"""``spanwise traces`` and ``spanwise trace ID``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from spanwise.cli._common import (
    console,
    fmt_cost,
    fmt_duration_ns,
    fmt_time_ns,
    json_option,
    open_store,
    parse_since,
    print_json,
    store_option,
)

# Sections other features add under the tree of ``spanwise trace ID``:
# fn(db, trace_id) -> (json_key, json_value, renderable or None)
TRACE_SECTIONS: list[Callable[[Any, str], tuple[str, Any, Any]]] = []


@click.command("traces")
@click.option("--since", help="Only traces that started in this window: 30m, 1h, 7d, or a date.")
@click.option("--status", type=click.Choice(["ok", "error"]), help="Only ok or errored traces.")
@click.option("--session", help="Only traces of this session.")
@click.option("--name", help="Only traces whose name contains this text.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100_000))
@json_option
@store_option
def traces_cmd(
    since: str | None,
    status: str | None,
    session: str | None,
    name: str | None,
    limit: int,
    as_json: bool,
    store_url: str | None,
) -> None:
    """Recent traces: time, name, duration, spans, cost, status."""
    from spanwise.store._queries import list_traces

    since_ns = parse_since(since)
    db = open_store(store_url)
    rows = list_traces(
        db, since_ns=since_ns, status=status, session=session, name=name, limit=limit
    )
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for col in ("time", "trace", "name", "duration", "spans", "LLM", "cost", "status"):
        table.add_column(
            col, justify="right" if col in ("duration", "spans", "LLM", "cost") else "left"
        )
    for r in rows:
        status_text = f"[red]error ({r['error_count']})[/]" if r["error_count"] else "[green]ok[/]"
        table.add_row(
            fmt_time_ns(r["start_ns"]),
            r["trace_id"][:12],
            click.style(r["name"] or "(unnamed)"),
            fmt_duration_ns(r["duration_ns"]),
            str(r["span_count"]),
            str(r["llm_call_count"]),
            fmt_cost(r["cost_usd"], r["unpriced_calls"]),
            status_text,
        )
    out = console()
    if not rows:
        out.print("no traces recorded yet")
        return
    out.print(table)


@click.command("trace")
@click.argument("trace_id")
@json_option
@store_option
def trace_cmd(trace_id: str, as_json: bool, store_url: str | None) -> None:
    """One trace as a tree: durations, share of parent, costs, errors. A unique id prefix
    is enough."""
    from spanwise.cli._tree import build_tree
    from spanwise.store._queries import get_trace, resolve_trace_id, trace_spans

    db = open_store(store_url)
    full_id = resolve_trace_id(db, trace_id)
    trace = get_trace(db, full_id)
    spans = trace_spans(db, full_id)
    sections = [section(db, full_id) for section in TRACE_SECTIONS]
    if as_json:
        payload: dict[str, Any] = {"trace": trace, "spans": spans}
        for key, value, _ in sections:
            payload[key] = value
        print_json(payload)
        return
    out = console()
    out.print(build_tree(trace, spans))
    for _, _, renderable in sections:
        if renderable is not None:
            out.print(renderable)


def register(group: click.Group) -> None:
    group.add_command(traces_cmd)
    group.add_command(trace_cmd)
