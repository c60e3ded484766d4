"""``spanwise exec -- CMD…``: run a program in trace mode and print what it did."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from typing import Any

import click

from spanwise.cli._common import console, fmt_cost, fmt_duration_ns, print_json

# Environment other features add for the child (e.g. auto-instrumentation): fn(env) -> None
CHILD_ENV_HOOKS: list[Any] = []


@click.command(
    "exec", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False}
)
@click.option("--name", default=None, help="Name of the root span (default: the command).")
@click.option("--session", default=None, help="Session id for the run.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_cmd(
    name: str | None, session: str | None, as_json: bool, command: tuple[str, ...]
) -> None:
    """Run COMMAND with spanwise in trace mode (its spans join one trace whose id is passed
    as TRACEPARENT) and print the trace's summary. Exits with COMMAND's exit code."""
    import spanwise
    from spanwise._settings import resolve

    settings = spanwise.configure("trace", session=session)
    label = name or shlex.join(command)
    env = dict(os.environ)
    env["SPANWISE_MODE"] = "trace"
    env["SPANWISE_HOME"] = str(settings.home)
    if settings.store:
        env["SPANWISE_STORE"] = settings.store
    if session:
        env["SPANWISE_SESSION"] = session
    for hook in CHILD_ENV_HOOKS:
        hook(env)
    with spanwise.span(label, kind="workflow", command=list(command)) as root:
        env["TRACEPARENT"] = spanwise.traceparent() or ""
        try:
            code = subprocess.call(list(command), env=env)
        except OSError as exc:
            root.set_status("error", str(exc))
            code = 127
            click.echo(f"Error: cannot run {command[0]!r}: {exc.strerror}", err=True)
        if code != 0:
            root.set_status("error", f"exit code {code}")
        root.set_attribute("process.exit.code", code)
    spanwise.shutdown()
    trace_hex = f"{root.trace_id:032x}"
    _print_summary(resolve(store=settings.store), trace_hex, as_json)
    sys.exit(code)


def _print_summary(settings: Any, trace_hex: str, as_json: bool) -> None:
    from spanwise.store import open_database
    from spanwise.store._queries import cost_by_trace, get_trace

    db = open_database(settings.store, readonly=True)
    trace = get_trace(db, trace_hex)
    models = cost_by_trace(db, trace_hex)
    if as_json:
        print_json({"trace": trace, "models": models})
        return
    out = console()
    duration = fmt_duration_ns(trace["end_ns"] - trace["start_ns"])
    out.print(
        f"[bold]spanwise[/] trace {trace_hex[:12]}  {duration}  "
        f"{trace['span_count']} spans  {trace['llm_call_count']} LLM calls  "
        f"{trace['input_tokens']:,} in / {trace['output_tokens']:,} out tokens  "
        f"cost {fmt_cost(trace['cost_usd'], trace['unpriced_calls'])}"
        + (f"  [red]{trace['error_count']} error(s)[/]" if trace["error_count"] else "")
    )
    for m in models:
        priced = m["calls"] > m["unpriced_calls"]
        cost = fmt_cost(m["cost_usd"] if priced else None, m["unpriced_calls"])
        out.print(
            f"  {m['key']}: {m['calls']} calls, "
            f"{m['input_tokens']:,} in / {m['output_tokens']:,} out, {cost}"
        )
    out.print(f"[dim]details: spanwise trace {trace_hex[:12]}[/]")


def register(group: click.Group) -> None:
    group.add_command(exec_cmd)
