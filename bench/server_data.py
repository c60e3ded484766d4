"""Generate a large store for the dashboard benchmarks: 100,000 traces of 10 spans
(1,000,000 spans, 200,000 LLM calls over 6 models, one unpriced) spread over the last 30
days in 1,000 sessions, 5 % of traces with an error, plus one trace of 5,000 spans.

Rows go through the store's own writer (``SpanRows``), in transactions of 2,000 traces.

    .venv/bin/python bench/server_data.py sqlite:///tmp/bench.db
    .venv/bin/python bench/server_data.py postgresql://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import random
import sys
import time
from typing import Any

from spanwise._llm_record import LlmCall
from spanwise._span import Span
from spanwise.store import open_database
from spanwise.store._exports import set_span_fields
from spanwise.store._span_rows import SpanRows

DAY_NS = 86_400 * 10**9
MODELS = [  # (provider, model, $ per M input, $ per M output); None = unpriced
    ("openai", "gpt-4o", 2.5, 10.0),
    ("openai", "gpt-4o-mini", 0.15, 0.6),
    ("anthropic", "claude-sonnet-4-0", 3.0, 15.0),
    ("anthropic", "claude-3-5-haiku-latest", 0.8, 4.0),
    ("google", "gemini-2.0-flash", 0.1, 0.4),
    ("acme", "in-house-7b", None, None),
]
SHAPE = [  # (name, kind, parent index) for the 10 spans of a trace
    ("agent run", "workflow", None),
    ("plan", "node", 0),
    ("chat plan", "llm", 1),
    ("search docs", "tool", 1),
    ("act", "node", 0),
    ("chat act", "llm", 4),
    ("run shell", "tool", 4),
    ("reflect", "node", 0),
    ("parse", "internal", 7),
    ("save state", "internal", 0),
]
BIG_TRACE_ID = 0xB16B16B16B16B16B16B16B16B16B16B1


def _call(rng: random.Random) -> LlmCall:
    provider, model, pin, pout = MODELS[rng.randrange(len(MODELS))]
    inp, out = rng.randint(200, 8000), rng.randint(20, 1200)
    call = LlmCall(provider, model, input_tokens=inp, output_tokens=out)
    if pin is not None and pout is not None:
        call.cost_usd, call.pricing_available = (inp * pin + out * pout) / 1e6, True
        call.price_source = "bench"
    else:
        call.pricing_available = False
    call.priced = True
    return call


def _span(
    name: str,
    kind: str,
    trace_id: int,
    span_id: int,
    parent: int,
    start: int,
    end: int,
    attrs: dict[str, Any],
) -> Span:
    s = Span(name, attrs, kind)
    s.trace_id, s.span_id, s.parent_id = trace_id, span_id, parent
    s.start_ns, s.end_ns = start, end
    return s


def trace_spans(rng: random.Random, trace_id: int, start: int) -> list[Span]:
    spans: list[Span] = []
    ids: list[int] = []
    fails = rng.random() < 0.05
    offset = 0
    for i, (name, kind, parent) in enumerate(SHAPE):
        span_id = rng.getrandbits(64) | 1
        ids.append(span_id)
        dur = rng.randint(1, 400) * 1_000_000 if kind in ("llm", "tool") else 500_000
        s_start = start + offset
        offset += dur // 2
        s = _span(
            name,
            kind,
            trace_id,
            span_id,
            ids[parent] if parent is not None else 0,
            s_start,
            s_start + dur,
            {"step": i, "user": f"user-{rng.randrange(500)}"},
        )
        if kind == "llm":
            set_span_fields(s, llm=_call(rng))
        if fails and name == "run shell":
            set_span_fields(
                s, status="error", error_type="CalledProcessError", error_message="exit status 1"
            )
        spans.append(s)
    root = spans[0]
    root.end_ns = max(s.end_ns for s in spans)
    return spans


def big_trace(rng: random.Random, start: int, size: int = 5_000) -> list[Span]:
    """One root with 50 steps of 99 children each (1 + 50 + 4,949 ≈ 5,000 spans)."""
    spans = [_span("big batch", "workflow", BIG_TRACE_ID, 1, 0, start, start + 60 * 10**9, {})]
    next_id, t = 2, start
    while len(spans) < size:
        step = _span(f"step {len(spans)}", "node", BIG_TRACE_ID, next_id, 1, t, t + 10**9, {})
        spans.append(step)
        parent, next_id = next_id, next_id + 1
        for j in range(min(99, size - len(spans))):
            kind = "llm" if j % 10 == 0 else "tool"
            child = _span(
                f"item {j}",
                kind,
                BIG_TRACE_ID,
                next_id,
                parent,
                t + j * 10**7,
                t + j * 10**7 + 5 * 10**6,
                {"j": j},
            )
            if kind == "llm":
                set_span_fields(child, llm=_call(rng))
            spans.append(child)
            next_id += 1
        t += 10**9
    return spans


def generate(url: str, traces: int = 100_000, batch: int = 2_000, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    db = open_database(url)
    placeholder = "%s" if db.dialect == "postgresql" else "?"
    now = time.time_ns()
    first = now - 30 * DAY_NS
    step = (30 * DAY_NS) // traces
    started = time.perf_counter()
    for lo in range(0, traces, batch):
        groups: dict[str, list[Span]] = {}
        for i in range(lo, min(lo + batch, traces)):
            trace_id = rng.getrandbits(128) | 1
            groups.setdefault(f"session-{i % 1000}", []).extend(
                trace_spans(rng, trace_id, first + i * step)
            )
        with db.transaction() as cur:
            for session, spans in groups.items():
                rows = SpanRows(session, 4242)
                rows.add_all(spans)
                rows.write(cur, placeholder)
        done = min(lo + batch, traces)
        if done % 20_000 == 0:
            print(f"  {done:,} traces in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    with db.transaction() as cur:
        rows = SpanRows("session-big", 4242)
        rows.add_all(big_trace(rng, now - DAY_NS))
        rows.write(cur, placeholder)
    if db.dialect == "postgresql":
        db.query("ANALYZE")
    else:
        db.query("ANALYZE")
    db.close()
    return {"seconds": time.perf_counter() - started, "big_trace_id": f"{BIG_TRACE_ID:032x}"}


if __name__ == "__main__":
    result = generate(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 100_000)
    print(result)
