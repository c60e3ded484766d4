"""``spanwise prices check`` and ``spanwise reprice``: prices you can trust.

``prices check`` lists the models seen in the store that have no price (and why: no price
known, or the provider reported no usage), says which ones the current price table or a
``[prices."model"]`` override in config.toml would now price, and how the priced calls
were priced (source and version).

``reprice --since 30d [--dry-run]`` recomputes stored costs with the current prices and
overrides, shows the difference per model, then writes it (costs, price source and
version on each call, and the per-trace totals) unless ``--dry-run``.
"""

from __future__ import annotations

from typing import Any

import click

from spanwise.cli._common import (
    console,
    fmt_cost,
    fmt_int,
    fmt_time_ns,
    json_option,
    open_store,
    parse_since,
    print_json,
    store_option,
)

_CALL_COLUMNS = (
    "id, trace_id, provider, request_model, response_model, operation, input_tokens, "
    "output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_usd, "
    "price_source, price_version"
)
_PROGRESS_FROM = 5_000


def _pricer(store_url: str | None) -> Any:
    from spanwise._pricing import Pricer
    from spanwise._settings import resolve

    return Pricer(resolve("off", store=store_url).price_overrides)


def _call(row: dict[str, Any]) -> Any:
    from spanwise._llm_record import call_from_row

    return call_from_row(row)


@click.group("prices")
def prices_group() -> None:
    """Check the prices behind stored costs."""


@prices_group.command("check")
@click.option("--since", help="Only calls in this window: 30m, 1h, 7d, or a date.")
@json_option
@store_option
def check_cmd(since: str | None, as_json: bool, store_url: str | None) -> None:
    """Models seen without a price, and whether current prices would price them."""
    db = open_store(store_url)
    since_ns = parse_since(since)
    where, params = ("WHERE start_ns >= ?", [since_ns]) if since_ns is not None else ("", [])
    unpriced_where = f"{where} {'AND' if where else 'WHERE'} cost_usd IS NULL"
    rows = db.query_dicts(
        "SELECT provider, COALESCE(response_model, request_model) AS model, "
        "MIN(request_model) AS request_model, MIN(response_model) AS response_model, "
        "COUNT(*) AS calls, "
        "SUM(CASE WHEN input_tokens IS NULL OR output_tokens IS NULL THEN 1 ELSE 0 END) "
        "AS without_usage, MAX(start_ns) AS last_seen "
        f"FROM llm_calls {unpriced_where} "
        "GROUP BY provider, COALESCE(response_model, request_model) ORDER BY calls DESC",
        params,
    )
    sources = db.query_dicts(
        "SELECT price_source, price_version, COUNT(*) AS calls FROM llm_calls "
        f"{where} {'AND' if where else 'WHERE'} cost_usd IS NOT NULL "
        "GROUP BY price_source, price_version ORDER BY calls DESC",
        params,
    )
    pricer = _pricer(store_url)
    for row in rows:
        row["status"] = _status(pricer, row)
    if as_json:
        print_json({"unpriced_models": rows, "priced_by": sources})
        return
    _print_check(rows, sources)


def _status(pricer: Any, row: dict[str, Any]) -> str:
    if row["without_usage"] == row["calls"]:
        return "no usage reported (tokens unknown)"
    probe = _call(
        {
            **row,
            "operation": "chat",
            "input_tokens": 1,
            "output_tokens": 1,
            "cache_read_tokens": None,
            "cache_write_tokens": None,
            "reasoning_tokens": None,
        }
    )
    price = pricer.price(probe)
    if price.available:
        return f"priced now by {price.source} {price.version}: run spanwise reprice"
    return 'no price known: add [prices."MODEL"] to config.toml'


def _print_check(rows: list[dict[str, Any]], sources: list[dict[str, Any]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    out = console()
    if not rows:
        out.print("every LLM call in the store is priced")
    else:
        table = Table(box=None, header_style="bold")
        for name in ("provider", "model", "calls", "last seen", "status"):
            table.add_column(name, justify="right" if name == "calls" else "left")
        for r in rows:
            table.add_row(
                escape(str(r["provider"])),
                escape(str(r["model"])),
                fmt_int(r["calls"]),
                fmt_time_ns(r["last_seen"]),
                escape(r["status"]),
            )
        out.print(
            f"[yellow]{len(rows)} model(s) without a price[/] (their cost is unknown, "
            "never counted as $0):"
        )
        out.print(table)
    for s in sources:
        version = f" {s['price_version']}" if s["price_version"] else ""
        source = escape(f"{s['price_source'] or 'unknown'}{version}")
        out.print(f"priced by {source}: {fmt_int(s['calls'])} call(s)")


@click.command("reprice")
@click.option("--since", help="Only calls in this window: 30m, 1h, 7d, or a date (default: all).")
@click.option("--dry-run", is_flag=True, help="Show the difference per model; write nothing.")
@json_option
@store_option
def reprice_cmd(since: str | None, dry_run: bool, as_json: bool, store_url: str | None) -> None:
    """Recompute stored costs with current prices and overrides; show the difference
    per model, then write it (unless --dry-run)."""
    since_ns = parse_since(since)
    db = open_store(store_url, readonly=dry_run)
    where, params = ("WHERE start_ns >= ?", [since_ns]) if since_ns is not None else ("", [])
    rows = db.query_dicts(f"SELECT {_CALL_COLUMNS} FROM llm_calls {where} ORDER BY id", params)
    pricer = _pricer(store_url)
    updates, summary = _reprice_rows(pricer, rows)
    if not dry_run and updates:
        _write(db, updates)
    if as_json:
        print_json(
            {"dry_run": dry_run, "calls": len(rows), "changed": len(updates), "models": summary}
        )
        return
    _print_reprice(summary, len(rows), len(updates), dry_run)


def _reprice_rows(
    pricer: Any, rows: list[dict[str, Any]]
) -> tuple[list[tuple[Any, ...]], list[dict[str, Any]]]:
    updates: list[tuple[Any, ...]] = []
    models: dict[str, dict[str, Any]] = {}
    for row in _progress(rows):
        price = pricer.price(_call(row))
        old = row["cost_usd"]
        key = row["response_model"] or row["request_model"]
        m = models.setdefault(
            key,
            {
                "model": key,
                "calls": 0,
                "changed": 0,
                "old_cost_usd": 0.0,
                "new_cost_usd": 0.0,
                "unpriced_before": 0,
                "unpriced_after": 0,
            },
        )
        m["calls"] += 1
        m["old_cost_usd"] += old or 0.0
        m["new_cost_usd"] += price.cost_usd or 0.0
        m["unpriced_before"] += old is None
        m["unpriced_after"] += price.cost_usd is None
        if not _same(old, price.cost_usd) or (
            price.available
            and (row["price_source"], row["price_version"]) != (price.source, price.version)
        ):
            m["changed"] += 1
            updates.append(
                (
                    price.cost_usd,
                    1 if price.available else 0,
                    price.source,
                    price.version,
                    row["id"],
                    row["trace_id"],
                )
            )
    summary = sorted(models.values(), key=lambda m: -abs(m["new_cost_usd"] - m["old_cost_usd"]))
    for m in summary:
        m["difference_usd"] = m["new_cost_usd"] - m["old_cost_usd"]
    return updates, summary


def _same(old: float | None, new: float | None) -> bool:
    if old is None or new is None:
        return old is new
    return abs(old - new) <= 1e-12 * max(1.0, abs(old))


def _progress(rows: list[dict[str, Any]]) -> Any:
    if len(rows) < _PROGRESS_FROM:
        return rows
    from rich.progress import track

    return track(rows, description="repricing", console=console())


def _write(db: Any, updates: list[tuple[Any, ...]]) -> None:
    p = "%s" if db.dialect == "postgresql" else "?"
    traces = sorted({u[5] for u in updates})
    with db.transaction() as cur:
        cur.executemany(
            f"UPDATE llm_calls SET cost_usd = {p}, pricing_available = {p}, price_source = {p}, "
            f"price_version = {p} WHERE id = {p}",
            [u[:5] for u in updates],
        )
        cur.executemany(
            "UPDATE traces SET "
            "cost_usd = (SELECT COALESCE(SUM(l.cost_usd), 0) FROM llm_calls l "
            "WHERE l.trace_id = traces.trace_id), "
            "unpriced_calls = (SELECT COUNT(*) FROM llm_calls l "
            f"WHERE l.trace_id = traces.trace_id AND l.cost_usd IS NULL) WHERE trace_id = {p}",
            [(t,) for t in traces],
        )


def _print_reprice(summary: list[dict[str, Any]], calls: int, changed: int, dry_run: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    out = console()
    if not calls:
        out.print("no LLM calls in this window")
        return
    table = Table(box=None, header_style="bold")
    for name in ("model", "calls", "changed", "stored cost", "current prices", "difference"):
        table.add_column(name, justify="left" if name == "model" else "right")
    for m in summary:
        diff = m["difference_usd"]
        table.add_row(
            escape(str(m["model"])),
            fmt_int(m["calls"]),
            fmt_int(m["changed"]),
            _cost(m["old_cost_usd"], m["unpriced_before"], m["calls"]),
            _cost(m["new_cost_usd"], m["unpriced_after"], m["calls"]),
            ("+" if diff > 0 else "-" if diff < 0 else "") + fmt_cost(abs(diff)) if diff else "-",
        )
    out.print(table)
    if dry_run:
        out.print(f"dry run: {changed} of {calls} calls would change; nothing written")
    else:
        out.print(f"repriced: {changed} of {calls} calls updated")


def _cost(total: float, unpriced: int, calls: int) -> str:
    return fmt_cost(None if unpriced == calls else total, unpriced)


def register(group: click.Group) -> None:
    group.add_command(prices_group)
    group.add_command(reprice_cmd)
