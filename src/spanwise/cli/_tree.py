"""Render one trace as a Rich tree: durations, share of parent, tokens and costs, errors."""

from __future__ import annotations

from typing import Any

from spanwise.cli._common import fmt_cost, fmt_duration_ns, fmt_int


def _label(span: dict[str, Any], parent_ns: int | None) -> str:
    from rich.markup import escape

    dur = span["duration_ns"]
    share = f" {100 * dur / parent_ns:.0f}%" if parent_ns else ""
    kind = span["kind"]
    text = f"[bold]{escape(span['name'])}[/] [dim]{kind}[/] {fmt_duration_ns(dur)}[dim]{share}[/]"
    call = span.get("llm")
    if call is not None:
        tokens = (
            f"{fmt_int(call['input_tokens'])} in / {fmt_int(call['output_tokens'])} out"
            if call["input_tokens"] is not None
            else "tokens unknown"
        )
        if call.get("cache_read_tokens"):
            tokens += f" ({fmt_int(call['cache_read_tokens'])} cached)"
        model = call["response_model"] or call["request_model"]
        cost = fmt_cost(call["cost_usd"], 0 if call["cost_usd"] is not None else 1)
        text += f"  [cyan]{escape(model)}[/] {tokens} [green]{cost}[/]"
    if span["status"] == "error":
        err = escape(f"{span['error_type'] or 'error'}: {span['error_message'] or ''}".strip())
        text += f"  [red]✗ {err}[/]"
    return text


def build_tree(trace: dict[str, Any], spans: list[dict[str, Any]]) -> Any:
    from rich.markup import escape
    from rich.tree import Tree

    by_parent: dict[str | None, list[dict[str, Any]]] = {}
    ids = {s["span_id"] for s in spans}
    for s in spans:
        parent = s["parent_span_id"] if s["parent_span_id"] in ids else None
        by_parent.setdefault(parent, []).append(s)
    title = (
        f"[bold]{escape(trace['name'] or '(unnamed)')}[/] [dim]{trace['trace_id']}[/] "
        f"{fmt_duration_ns(trace['end_ns'] - trace['start_ns'])}  "
        f"{trace['span_count']} spans  {trace['llm_call_count']} LLM calls  "
        f"[green]{fmt_cost(trace['cost_usd'], trace['unpriced_calls'])}[/]"
    )
    if trace["error_count"]:
        title += f"  [red]{trace['error_count']} error(s)[/]"
    root = Tree(title)

    def add(node: Any, parent_id: str | None, parent_ns: int | None, depth: int) -> None:
        for s in by_parent.get(parent_id, []):
            child = node.add(_label(s, parent_ns))
            if depth < 64:
                add(child, s["span_id"], s["duration_ns"], depth + 1)

    add(root, None, None, 0)
    return root
