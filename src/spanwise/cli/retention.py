"""``spanwise prune --older-than 30d`` and ``spanwise export --format jsonl|otlp``."""

from __future__ import annotations

import re
import sys
import time
from typing import Any, TextIO

import click

from spanwise.cli._common import CliError, console, fmt_int, open_store, parse_since, store_option

PRUNE_CHUNK = 500
_AGE = re.compile(r"^\s*\d+(?:\.\d+)?\s*[smhdw]\s*$")


def _progress(out: Any) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=out,
        transient=False,
    )


@click.command("prune")
@click.option(
    "--older-than",
    "older_than",
    required=True,
    help="Delete traces that started and ended longer ago than this: 30d, 12h, 2w.",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--vacuum", is_flag=True, help="Then give the freed space back (VACUUM).")
@store_option
def prune_cmd(older_than: str, yes: bool, vacuum: bool, store_url: str | None) -> None:
    """Delete old traces with their spans, LLM calls, errors, lock events and diffs.

    Shows what would go first and asks before deleting (unless --yes)."""
    from spanwise.store import _retention as r

    if not _AGE.match(older_than):
        raise CliError(f"invalid --older-than {older_than!r}: expected an age like 30d, 12h or 2w")
    cutoff = parse_since(older_than) or 0
    db = open_store(store_url, readonly=False)
    out = console()
    counts = r.count_old(db, cutoff)
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(cutoff / 1e9))
    out.print(
        f"{fmt_int(counts['traces'])} traces older than {older_than} (before {when}): "
        f"{fmt_int(counts['spans'])} spans, {fmt_int(counts['llm_calls'])} LLM calls"
    )
    if not counts["traces"]:
        out.print("nothing to prune")
        return
    if not yes and not click.confirm("Delete them?", default=False):
        raise CliError("nothing deleted")
    done = 0
    with _progress(out) as progress:
        task = progress.add_task("pruning", total=counts["traces"])
        while True:
            ids = r.old_trace_ids(db, cutoff, PRUNE_CHUNK)
            if not ids:
                break
            r.delete_traces(db, ids)
            done += len(ids)
            progress.update(task, completed=min(done, counts["traces"]))
    other = r.delete_untraced(db, cutoff)
    blobs = r.delete_orphan_blobs(db)
    out.print(
        f"deleted {fmt_int(done)} traces, {fmt_int(blobs)} unused blobs"
        + (f" and {fmt_int(other)} other old records" if other else "")
    )
    if vacuum:
        r.vacuum(db)
        out.print("vacuumed")


@click.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "otlp"]),
    default="jsonl",
    show_default=True,
    help="jsonl: one span per line (as the JSONL exporter writes); "
    "otlp: OTLP/JSON lines (one ExportTraceServiceRequest per line).",
)
@click.option("--since", help="Only traces that started in this window: 30m, 1h, 7d, or a date.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    help="Write here instead of standard output.",
)
@store_option
def export_cmd(fmt: str, since: str | None, output: str | None, store_url: str | None) -> None:
    """Export stored traces as JSON Lines or OTLP/JSON."""
    since_ns = parse_since(since)
    db = open_store(store_url)
    if fmt == "otlp":
        try:
            import opentelemetry.proto  # noqa: F401
        except ImportError:
            raise CliError("--format otlp needs: pip install 'spanwise[otel]'") from None
    if output is None:
        count = _export(db, fmt, since_ns, sys.stdout)
    else:
        try:
            with open(output, "w", encoding="utf-8") as f:
                count = _export(db, fmt, since_ns, f)
        except OSError as exc:
            raise CliError(f"cannot write {output}: {exc.strerror or exc}") from None
        console().print(f"exported {fmt_int(count)} spans to {output}")


def _export(db: Any, fmt: str, since_ns: int | None, f: TextIO) -> int:
    from spanwise._serialize import record_to_dict
    from spanwise.store._exports import otlp_line, spans_from_rows
    from spanwise.store._json import dumps
    from spanwise.store._retention import rows_for_traces, trace_pages

    count = 0
    for page in trace_pages(db, since_ns):
        spans = spans_from_rows(rows_for_traces(db, [trace_id for trace_id, _ in page]))
        count += len(spans)
        if fmt == "jsonl":
            f.write("".join(dumps(record_to_dict(s)) + "\n" for s in spans))
            continue
        sessions = dict(page)
        by_session: dict[str | None, list[Any]] = {}
        for s in spans:
            by_session.setdefault(sessions.get(f"{s.trace_id:032x}"), []).append(s)
        for session, group in by_session.items():
            f.write(otlp_line(group, session) + "\n")
    return count


def register(group: click.Group) -> None:
    group.add_command(prune_cmd)
    group.add_command(export_cmd)
