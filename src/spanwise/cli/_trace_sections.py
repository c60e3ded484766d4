"""Sections under the tree of ``spanwise trace ID``: the trace's error reports, its LLM
calls, its lock events and its state diffs. Each is ``fn(db, trace_id) -> (json key,
json value, renderable or None)``; an empty section renders nothing."""

from __future__ import annotations

import json
from typing import Any

from spanwise.cli._common import fmt_duration_ns, fmt_time_ns

MAX_TIMELINE = 30
MAX_PATCH_LINES = 20


def _capture(render: Any) -> Any:
    """Run ``render(console)`` into a renderable group (our renderers print)."""
    from rich.console import Group

    items: list[Any] = []

    class _Collect:
        def print(self, *objects: Any, **_: Any) -> None:
            items.extend(objects)

    render(_Collect())
    return Group(*items)


def errors_section(db: Any, trace_id: str) -> tuple[str, Any, Any]:
    from spanwise.cli.errors import render_frames
    from spanwise.debug._queries import trace_errors

    reports = trace_errors(db, trace_id)
    if not reports:
        return "errors", [], None

    def render(out: Any) -> None:
        from rich.markup import escape

        out.print(f"\n[bold red]Error reports[/] ({len(reports)})")
        for r in reports:
            out.print(
                f"[red]{escape(r['error_type'])}[/]: {escape(r['error_message'] or '')}  "
                f"[dim]error {r['error_id']}[/]"
            )
            frames = [f for f in r["frames"] if "file" in f]
            render_frames(out, frames[-1:])  # the failing frame and its locals
            out.print(f"  [dim]all frames: spanwise errors show {r['error_id'][:12]}[/]")

    return "errors", reports, _capture(render)


def llm_section(db: Any, trace_id: str) -> tuple[str, Any, Any]:
    from spanwise.cli.errors import render_llm_calls
    from spanwise.debug._queries import trace_errors, trace_llm_calls

    calls = trace_llm_calls(db, trace_id)
    if not calls:
        return "llm_calls", [], None
    errors = trace_errors(db, trace_id)
    first_error = errors[0]["time_ns"] if errors else None
    return "llm_calls", calls, _capture(lambda out: render_llm_calls(out, calls, first_error))


def locks_section(db: Any, trace_id: str) -> tuple[str, Any, Any]:
    from spanwise.debug._queries import lock_events, lock_stats

    events = lock_events(db, trace_id=trace_id)
    if not events:
        return "lock_events", [], None
    stats = lock_stats(events)

    def render(out: Any) -> None:
        from spanwise.cli.locks import render_problems, render_stats, render_timeline

        out.print(f"\n[bold]Lock events[/] ({len(events)})")
        render_problems(out, events)
        render_stats(out, stats)
        render_timeline(out, events[-MAX_TIMELINE:])

    return "lock_events", events, _capture(render)


def state_section(db: Any, trace_id: str) -> tuple[str, Any, Any]:
    from spanwise.debug._queries import trace_state_diffs

    diffs = trace_state_diffs(db, trace_id)
    if not diffs:
        return "state_diffs", [], None

    def render(out: Any) -> None:
        from rich.markup import escape

        out.print(f"\n[bold]State diffs[/] ({len(diffs)})")
        for d in diffs:
            status = " [red](block failed)[/]" if d["status"] == "error" else ""
            out.print(
                f"[bold]{escape(d['label'])}[/] {fmt_time_ns(d['time_ns'])} "
                f"{fmt_duration_ns(d['duration_ns'])}: {d['change_count']} change(s){status}"
            )
            for op in d["patch"][:MAX_PATCH_LINES]:
                value = ""
                if "value" in op:
                    text = json.dumps(op["value"], ensure_ascii=False, default=str)
                    value = " = " + (text if len(text) <= 100 else text[:100] + "…")
                out.print(f"  {op['op']:<7} {escape(op['path'] or '/')}{escape(value)}")
            if len(d["patch"]) > MAX_PATCH_LINES:
                out.print(f"  [dim]… {len(d['patch']) - MAX_PATCH_LINES} more (--json)[/]")

    return "state_diffs", diffs, _capture(render)


SECTIONS = (errors_section, llm_section, locks_section, state_section)


def install() -> None:
    """Add the sections to ``spanwise trace ID`` (once)."""
    from spanwise.cli.traces import TRACE_SECTIONS

    for section in SECTIONS:
        if section not in TRACE_SECTIONS:
            TRACE_SECTIONS.append(section)
