"""The server's incremental hourly cost rollup gives the same answers as a full GROUP BY,
through inserts, retried inserts and prunes."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from spanwise._llm_record import LlmCall
from spanwise.store import open_database
from spanwise.store._cost_rollup import HOUR_NS, CostRollup
from spanwise.store._dashboard_queries import cost_over_time
from spanwise.store._retention import delete_traces

MODELS = [
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("anthropic", "claude-sonnet-4-0"),
    ("acme", "nobody-knows"),
]


def _write(db: object, rng: random.Random, trace: int, start: int) -> None:
    from spanwise._span import Span
    from spanwise.store._exports import set_span_fields
    from spanwise.store._span_rows import SpanRows

    spans = []
    for _i in range(rng.randint(1, 4)):
        s = Span("call", {}, "llm")
        s.trace_id, s.span_id, s.parent_id = trace, rng.getrandbits(63) + 1, 0
        s.start_ns = start + rng.randint(0, 3 * 3_600) * 10**9
        s.end_ns = s.start_ns + 10**6
        provider, model = rng.choice(MODELS)
        call = LlmCall(
            provider, model, input_tokens=rng.randint(1, 5000), output_tokens=rng.randint(1, 500)
        )
        call.cost_usd = None if model == "nobody-knows" else rng.random() / 100
        call.priced = True
        set_span_fields(s, llm=call)
        spans.append(s)
    rows = SpanRows(None, 1)
    rows.add_all(spans)
    with db.transaction() as cur:  # type: ignore[attr-defined]
        rows.write(cur, "%s" if db.dialect == "postgresql" else "?")  # type: ignore[attr-defined]


def _same(rollup: CostRollup, db: object) -> None:
    fast = rollup.series(db, None, HOUR_NS)  # type: ignore[arg-type]
    full = [r for r in cost_over_time(db, None, HOUR_NS) if r["calls"]]  # type: ignore[arg-type]
    key = lambda r: (r["bucket"], r["model"] or "")  # noqa: E731
    assert [
        (key(r), r["calls"], r["input_tokens"], r["output_tokens"], r["unpriced_calls"])
        for r in sorted(fast, key=key)
    ] == [
        (key(r), r["calls"], r["input_tokens"], r["output_tokens"], r["unpriced_calls"])
        for r in sorted(full, key=key)
    ]
    for a, b in zip(sorted(fast, key=key), sorted(full, key=key), strict=True):
        assert a["cost_usd"] == pytest.approx(b["cost_usd"])


def test_cost_rollup_follows_inserts_and_prunes(tmp_path: Path) -> None:
    check_rollup(f"sqlite://{tmp_path}/rollup.db")


def check_rollup(store_url: str) -> None:
    """Also run against PostgreSQL (tests/postgres)."""
    rng = random.Random(5)
    db = open_database(store_url)
    rollup = CostRollup()
    start = time.time_ns() - 10 * 3_600 * 10**9
    written: list[int] = []
    for step in range(25):
        for _ in range(rng.randint(1, 5)):
            trace = rng.getrandbits(100) + 1
            _write(db, rng, trace, start)
            written.append(trace)
        if step % 6 == 5:  # a prune in between
            victims = [f"{t:032x}" for t in rng.sample(written, 3)]
            delete_traces(db, victims)
            written = [t for t in written if f"{t:032x}" not in victims]
        _same(rollup, db)
    assert rollup.rebuilds >= 5  # the first build and one per prune
    day = rollup.series(db, start, 86_400 * 10**9)
    assert sum(r["calls"] for r in day) == sum(r["calls"] for r in rollup.series(db, None, HOUR_NS))
    db.close()
