"""``spanwise cost --by model|provider|day|session|name|node``."""

from __future__ import annotations

import click

from spanwise.cli._common import (
    console,
    fmt_cost,
    fmt_int,
    json_option,
    open_store,
    parse_since,
    print_json,
    store_option,
)
from spanwise.store._queries import COST_GROUPS


@click.command("cost")
@click.option(
    "--by", "by", type=click.Choice(sorted(COST_GROUPS)), default="model", show_default=True
)
@click.option("--since", help="Window: 30m, 1h, 7d, or a date (default: everything).")
@json_option
@store_option
def cost_cmd(by: str, since: str | None, as_json: bool, store_url: str | None) -> None:
    """LLM calls, tokens and cost, grouped. Unpriced models are listed, never counted as $0."""
    from rich.table import Table

    from spanwise.store._queries import cost_by

    db = open_store(store_url)
    rows = cost_by(db, by, parse_since(since))
    if as_json:
        print_json(rows)
        return
    out = console()
    if not rows:
        out.print("no LLM calls recorded in this window")
        return
    table = Table(box=None, header_style="bold", show_footer=True)
    table.add_column(by, footer="total")
    table.add_column("calls", justify="right", footer=str(sum(r["calls"] for r in rows)))
    table.add_column("input", justify="right", footer=fmt_int(sum(r["input_tokens"] for r in rows)))
    table.add_column("cached", justify="right")
    table.add_column(
        "output", justify="right", footer=fmt_int(sum(r["output_tokens"] for r in rows))
    )
    total = sum(r["cost_usd"] or 0 for r in rows)
    unpriced = sum(r["unpriced_calls"] for r in rows)
    table.add_column("cost", justify="right", footer=fmt_cost(total, unpriced))
    for r in rows:
        priced = r["calls"] - r["unpriced_calls"]
        cost = fmt_cost(r["cost_usd"] if priced else None, r["unpriced_calls"])
        table.add_row(
            str(r["key"]),
            str(r["calls"]),
            fmt_int(r["input_tokens"]),
            fmt_int(r["cache_read_tokens"]),
            fmt_int(r["output_tokens"]),
            cost,
        )
    out.print(table)
    missing = [str(r["key"]) for r in rows if r["unpriced_calls"]]
    if missing:
        out.print(f"[yellow]unpriced (no price known, not counted as $0):[/] {', '.join(missing)}")


def register(group: click.Group) -> None:
    group.add_command(cost_cmd)
