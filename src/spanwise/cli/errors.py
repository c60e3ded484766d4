"""``spanwise errors [list]`` and ``spanwise errors show ID`` (an error id or trace id)."""

from __future__ import annotations

import json
from typing import Any

import click

from spanwise.cli._common import (
    CliError,
    console,
    fmt_cost,
    fmt_duration_ns,
    fmt_int,
    fmt_time_ns,
    json_option,
    open_store,
    parse_since,
    print_json,
    store_option,
)

LOCAL_CHARS = 160  # one local variable's value on screen (``--json`` has it whole)
STATE_LINES = 40


def _short(value: Any, limit: int = LOCAL_CHARS) -> str:
    text = (
        value
        if isinstance(value, str) and value.startswith("<")
        else json.dumps(value, ensure_ascii=False, default=str)
    )
    return text if len(text) <= limit else text[:limit] + "…"


@click.group("errors", invoke_without_command=True)
@click.pass_context
def errors_group(ctx: click.Context) -> None:
    """Error reports captured with @spanwise.capture_errors (list is the default)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_cmd)


@errors_group.command("list")
@click.option("--since", help="Only errors in this window: 30m, 1h, 7d, or a date.")
@click.option("--session", help="Only errors of this session.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100_000))
@json_option
@store_option
def list_cmd(
    since: str | None, session: str | None, limit: int, as_json: bool, store_url: str | None
) -> None:
    """Recent error reports: time, error id, trace, type, message, where it was raised."""
    from spanwise.debug._queries import list_errors

    rows = list_errors(
        open_store(store_url), since_ns=parse_since(since), session=session, limit=limit
    )
    if as_json:
        print_json(rows)
        return
    out = console()
    if not rows:
        out.print("no error reports recorded")
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for col in ("time", "error", "trace", "type", "message", "where"):
        table.add_column(col, overflow="fold" if col == "message" else "ellipsis")
    for r in rows:
        where = f"{r['function']} ({(r['file'] or '?').rsplit('/', 1)[-1]}:{r['line']})"
        table.add_row(
            fmt_time_ns(r["time_ns"]),
            r["error_id"][:12],
            (r["trace_id"] or "-")[:12],
            f"[red]{r['error_type']}[/]",
            _short(r["error_message"] or "", 60),
            where,
        )
    out.print(table)
    out.print("[dim]details: spanwise errors show ERROR_OR_TRACE_ID[/]")


@errors_group.command("show")
@click.argument("ident")
@json_option
@store_option
def show_cmd(ident: str, as_json: bool, store_url: str | None) -> None:
    """One error report: every frame with its locals, the chained exceptions, the state
    snapshot and the LLM calls of its trace. ID is an error id or a trace id (prefix)."""
    from spanwise.debug._queries import find_errors, trace_llm_calls

    db = open_store(store_url)
    reports = find_errors(db, ident)
    if not reports:
        raise CliError(f"no error report with error or trace id {ident!r}")
    for r in reports:
        r["report_file"] = report_file(r)
        r["llm_calls"] = trace_llm_calls(db, r["trace_id"]) if r["trace_id"] else []
    if as_json:
        print_json(reports if len(reports) > 1 else reports[0])
        return
    out = console()
    for r in reports:
        render_report(out, r)


def report_file(report: dict[str, Any]) -> str | None:
    """The report's JSON file under SPANWISE_HOME, when it is on this machine."""
    from spanwise._settings import home_dir
    from spanwise.debug._session_log import session_dir

    directory = session_dir(home_dir(), report.get("session_id")) / "errors"
    trace = report.get("trace_id") or "no-trace"
    for name in (f"{trace}_error.json", f"{trace}_error_{report['error_id']}.json"):
        path = directory / name
        try:
            with open(path, encoding="utf-8") as f:
                if json.load(f).get("error_id") == report["error_id"]:
                    return str(path)
        except (OSError, ValueError):
            continue
    return None


def render_report(out: Any, r: dict[str, Any]) -> None:
    from rich.markup import escape

    out.print(f"[bold red]{escape(r['error_type'])}[/]: {escape(r['error_message'] or '')}")
    out.print(
        f"  error {r['error_id']}  trace {r['trace_id'] or '-'}  span {r['span_id'] or '-'}\n"
        f"  {fmt_time_ns(r['time_ns'])}  pid {r['pid']}  thread {escape(r['thread'] or '-')}"
        + (f"  task {escape(r['task'])}" if r.get("task") else "")
        + f"  session {escape(r['session_id'] or 'default')}"
    )
    if r.get("report_file"):
        out.print(f"  report file: {escape(r['report_file'])}", soft_wrap=True)
    out.print("\n[bold]Traceback[/] (most recent call last), each frame with its own locals:")
    render_frames(out, r["frames"])
    for link in r.get("chain") or []:
        label = "caused by" if link["relation"] == "cause" else "while handling"
        out.print(
            f"\n[bold]{label}[/] [red]{escape(link['error_type'])}[/]: "
            f"{escape(link['error_message'] or '')}"
        )
        render_frames(out, link["frames"])
    render_state(out, r.get("state_snapshot"))
    render_llm_calls(out, r.get("llm_calls") or [], r["time_ns"])
    out.print("")


def render_frames(out: Any, frames: list[dict[str, Any]]) -> None:
    from rich.markup import escape

    last = max((i for i, f in enumerate(frames) if "file" in f), default=-1)
    for i, f in enumerate(frames):
        if "omitted_frames" in f:
            out.print(f"  [dim]… {f['omitted_frames']} frames omitted …[/]")
            continue
        mark = "  [red]← raised here[/]" if i == last else ""
        out.print(
            f"  [cyan]{escape(f['file'])}[/]:{f['line']} in [bold]{escape(f['function'])}[/]{mark}"
        )
        if f.get("code"):
            out.print(f"    > {escape(f['code'])}")
        for name, value in (f.get("locals") or {}).items():
            out.print(f"      {escape(name)} = {escape(_short(value))}")


def render_state(out: Any, state: dict[str, Any] | None) -> None:
    from rich.markup import escape

    if not state:
        return
    source = state.get("path") or state.get("source")
    out.print(f"\n[bold]State snapshot[/] [dim]({escape(str(source))})[/]")
    if state.get("error"):
        out.print(f"  [yellow]{escape(state['error'])}[/]")
        return
    value = state.get("value")
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
    lines = text.splitlines()
    for line in lines[:STATE_LINES]:
        out.print(f"  {escape(line)}")
    if len(lines) > STATE_LINES:
        out.print(f"  [dim]… {len(lines) - STATE_LINES} more lines (--json shows all)[/]")
    if state.get("truncated"):
        out.print("  [dim](the snapshot was cut at its size cap)[/]")


def render_llm_calls(out: Any, calls: list[dict[str, Any]], error_ns: int | None = None) -> None:
    from rich.markup import escape
    from rich.table import Table

    if not calls:
        return
    before = [c for c in calls if error_ns is None or c["start_ns"] <= error_ns]
    last = before[-1] if before and error_ns is not None else None
    out.print(f"\n[bold]LLM calls in this trace[/] ({len(calls)})")
    table = Table(box=None, header_style="bold", padding=(0, 1))
    for col in ("time", "span", "model", "tokens in/out", "cost", "latency", "status"):
        table.add_column(col)
    for c in calls:
        marker = " ← last before the error" if c is last else ""
        table.add_row(
            fmt_time_ns(c["start_ns"]),
            escape(c["name"] or c["span_id"]),
            escape(c["response_model"] or c["request_model"]),
            f"{fmt_int(c['input_tokens'])} / {fmt_int(c['output_tokens'])}",
            fmt_cost(c["cost_usd"], 0 if c["cost_usd"] is not None else 1),
            fmt_duration_ns(c["duration_ns"]),
            ("[red]error[/]" if c["status"] == "error" else "ok") + marker,
        )
    out.print(table)
    if last is not None and last.get("response"):
        out.print(f"  last response: {escape(_short(last['response'], 300))}")


def register(group: click.Group) -> None:
    from spanwise.cli._trace_sections import install

    group.add_command(errors_group)
    install()
