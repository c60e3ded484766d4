"""Large batches are written in overlapping chunks (rows built while the previous chunk is
inserted); a batch is still all or nothing, and its totals are those of the plain way."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from spanwise._llm_record import LlmCall
from spanwise._span import Span
from spanwise.store._exporter import StoreExporter
from spanwise.store._overlap import CHUNK, MIN_SPANS


def _spans(traces: int, per_trace: int, first_id: int = 1) -> list[Span]:
    spans = []
    span_id = first_id
    for t in range(traces):
        for i in range(per_trace):
            s = Span("root" if i == 0 else f"step {i}", {"i": i}, "internal")
            s.trace_id, s.span_id = 1000 + t + first_id * 10_000, span_id
            s.parent_id = 0 if i == 0 else span_id - i
            s.start_ns, s.end_ns = 1_000 + i, 2_000 + i
            if i == 3:
                s.llm = LlmCall("openai", "gpt-4o", input_tokens=100, output_tokens=10)
            if i == 4:
                s.set_status("error", "boom")
            spans.append(s)
            span_id += 1
    return spans


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_a_large_batch_is_written_whole(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    exporter = StoreExporter(f"sqlite://{db}")
    spans = _spans(traces=40, per_trace=37)  # 1,480 spans: several chunks, a partial last one
    assert len(spans) >= MIN_SPANS and len(spans) % CHUNK
    exporter.export(spans)
    exporter.shutdown()
    assert _rows(db, "SELECT count(*) FROM spans") == [(1480,)]
    assert _rows(db, "SELECT count(DISTINCT span_id) FROM spans") == [(1480,)]
    assert _rows(db, "SELECT count(*) FROM llm_calls") == [(40,)]
    totals = _rows(
        db,
        "SELECT count(*), sum(span_count), sum(error_count), sum(llm_call_count), "
        "sum(input_tokens), min(name), max(name) FROM traces",
    )
    assert totals == [(40, 1480, 40, 40, 4000, "root", "root")]


def test_a_failing_chunk_leaves_nothing_of_its_batch(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    exporter = StoreExporter(f"sqlite://{db}")
    exporter.export(_spans(traces=2, per_trace=5))  # a small batch that lands
    bad = _spans(traces=30, per_trace=30, first_id=100)
    bad[CHUNK * 2 + 5].name = object()  # type: ignore[assignment]  # SQLite cannot store it
    with pytest.raises(sqlite3.Error):
        exporter.export(bad)
    exporter.export(_spans(traces=1, per_trace=600, first_id=5000))  # the store still works
    exporter.shutdown()
    assert _rows(db, "SELECT count(*) FROM spans") == [(610,)]
    assert _rows(db, "SELECT count(*), sum(span_count) FROM traces") == [(3, 610)]
