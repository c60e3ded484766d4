"""``spanwise locks [--trace ID] [--lock NAME]``: deadlocks and inversions first, then per
lock counts with wait and hold p50/p95/max, the top waiters and a timeline."""

from __future__ import annotations

from typing import Any

import click

from spanwise.cli._common import (
    console,
    fmt_duration_ns,
    fmt_time_ns,
    json_option,
    open_store,
    parse_since,
    print_json,
    store_option,
)


@click.command("locks")
@click.option("--trace", "trace_id", help="Only the lock events of this trace (id or prefix).")
@click.option("--lock", "lock_name", help="Only this lock.")
@click.option("--since", help="Only events in this window: 30m, 1h, 7d, or a date.")
@click.option(
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="Timeline rows to show (statistics use every event).",
)
@json_option
@store_option
def locks_cmd(
    trace_id: str | None,
    lock_name: str | None,
    since: str | None,
    limit: int,
    as_json: bool,
    store_url: str | None,
) -> None:
    """Who held which lock, who waited, and for how long."""
    from spanwise.debug._queries import lock_events, lock_problems, lock_stats, top_waiters
    from spanwise.store._queries import resolve_trace_id

    db = open_store(store_url)
    full_id = resolve_trace_id(db, trace_id) if trace_id else None
    events = lock_events(
        db, trace_id=full_id, lock=lock_name, since_ns=parse_since(since), limit=200_000
    )
    stats = lock_stats(events)
    waiters = top_waiters(events)
    if as_json:
        print_json(
            {
                "locks": stats,
                "top_waiters": waiters,
                "problems": lock_problems(events),
                "events": events[-limit:],
            }
        )
        return
    out = console()
    if not events:
        out.print(
            "no lock events recorded"
            + (" for this filter" if trace_id or lock_name or since else "")
        )
        return
    render_problems(out, events)
    render_stats(out, stats)
    render_waiters(out, waiters)
    render_timeline(out, events[-limit:])


def _ms(ns: int | None) -> str:
    return "-" if ns is None else fmt_duration_ns(ns)


def render_problems(out: Any, events: list[dict[str, Any]]) -> None:
    from rich.markup import escape

    from spanwise.debug._queries import lock_problems

    for e in lock_problems(events):
        details = e["details"] or {}
        if e["event"] == "deadlock":
            out.print(
                f"[bold red]DEADLOCK[/] {fmt_time_ns(e['time_ns'])}: "
                f"{escape(details.get('summary', ''))}"
            )
            for party in details.get("parties", []):
                name = party.get("task") or party.get("thread")
                out.print(
                    f"  [bold]{escape(str(name))}[/] (pid {party.get('pid')}) holds "
                    f"{escape(', '.join(party.get('holding', [])) or 'nothing')}, waits "
                    f"for {escape(str(party.get('waiting_for')))}"
                )
                for frame in party.get("stack", [])[-6:]:
                    out.print(
                        f"    {escape(frame['file'].rsplit('/', 1)[-1])}:{frame['line']} "
                        f"in {escape(frame['function'])}: {escape(frame['code'])}"
                    )
        elif e["event"] == "order_inversion":
            out.print(
                f"[bold yellow]lock order inversion[/] {fmt_time_ns(e['time_ns'])}: "
                f"{escape(details.get('summary', ''))}"
            )
            site = details.get("this_site") or []
            if site:
                f = site[-1]
                out.print(
                    f"  here: {escape(f['file'].rsplit('/', 1)[-1])}:{f['line']} "
                    f"in {escape(f['function'])}"
                )
            for other in details.get("other_sites", []):
                stack = other.get("stack") or []
                if stack:
                    f = stack[-1]
                    out.print(
                        f"  {escape(other['held'])} → {escape(other['taken'])} at "
                        f"{escape(f['file'].rsplit('/', 1)[-1])}:{f['line']} "
                        f"in {escape(f['function'])}"
                    )
        else:
            prev = details.get("previous_holder") or {}
            out.print(
                f"[yellow]recovered[/] {escape(e['lock_name'])} "
                f"{fmt_time_ns(e['time_ns'])}: its holder pid {prev.get('pid')} "
                f"({escape(str(prev.get('operation') or prev.get('thread')))}) ended "
                f"without releasing it; taken over by pid {e['pid']}"
            )


def render_stats(out: Any, stats: list[dict[str, Any]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    table.add_column("lock", overflow="fold")
    table.add_column("kind")
    for col in (
        "acquired",
        "contended",
        "timeouts",
        "wait p50 / p95 / max",
        "hold p50 / p95 / max",
    ):
        table.add_column(col, justify="right", no_wrap=True)
    for s in stats:
        table.add_row(
            escape(s["lock"]),
            s["kind"] or "-",
            str(s["acquisitions"]),
            str(s["contended"]),
            str(s["timeouts"] + s["cancelled"]),
            " / ".join(_ms(s[f"wait_{k}_ns"]) for k in ("p50", "p95", "max")),
            " / ".join(_ms(s[f"hold_{k}_ns"]) for k in ("p50", "p95", "max")),
        )
    out.print(table)


def render_waiters(out: Any, waiters: list[dict[str, Any]]) -> None:
    from rich.markup import escape

    if not waiters:
        return
    out.print("\n[bold]Top waiters[/]")
    for w in waiters:
        out.print(
            f"  {escape(w['who'])} waited {fmt_duration_ns(w['total_wait_ns'])} for "
            f"{escape(w['lock'])} over {w['waits']} acquisition(s) "
            f"(longest {fmt_duration_ns(w['max_wait_ns'])})"
        )


def render_timeline(out: Any, events: list[dict[str, Any]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    from spanwise.debug._queries import who

    out.print("\n[bold]Timeline[/]")
    table = Table(box=None, header_style="bold", padding=(0, 1))
    for col in ("time", "lock", "event", "who", "wait", "hold", "operation", "trace"):
        table.add_column(col, justify="right" if col in ("wait", "hold") else "left")
    colors = {
        "timeout": "yellow",
        "cancelled": "yellow",
        "deadlock": "bold red",
        "order_inversion": "yellow",
    }
    for e in events:
        ns = e["time_ns"]
        stamp = fmt_time_ns(ns) + f".{(ns // 1_000_000) % 1000:03d}"
        event = e["event"]
        if isinstance(e["details"], dict) and e["details"].get("recovered"):
            event += " (recovered)"
        color = colors.get(e["event"], "yellow" if "recovered" in event else "")
        table.add_row(
            stamp,
            escape(e["lock_name"]),
            f"[{color}]{event}[/]" if color else event,
            escape(who(e)),
            _ms(e["wait_ns"]),
            _ms(e["hold_ns"]),
            escape(e["operation"] or "-"),
            (e["trace_id"] or "-")[:12],
        )
    out.print(table)


def register(group: click.Group) -> None:
    group.add_command(locks_cmd)
