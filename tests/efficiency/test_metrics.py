"""Per-phase records: the efficiency table (idempotent, even across processes), spans
in the trace, the JSON log line, the stats, and what each mode does."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import spanwise
from efficiency.helpers import CountingEmbedder, files
from spanwise.efficiency import (
    EmbeddingCache,
    efficiency_records,
    efficiency_stats,
    record_efficiency,
    select_context,
)


def rows(db_path: Path, sql: str = "SELECT * FROM efficiency") -> list[dict[str, object]]:
    with sqlite3.connect(db_path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql)]


def test_a_record_is_stored_with_every_metric(
    tmp_path: Path, embedder: CountingEmbedder, cache: EmbeddingCache
) -> None:
    home = tmp_path / "home"
    spanwise.configure("trace", home=home)
    f = files()
    sel = select_context(
        f,
        "embedding cache",
        200,
        pinned=["src/budget/tokens.py"],
        run="run-1",
        phase="plan",
        artifacts={"docs/intro.md": "Intro: project overview."},
        embedder=embedder,
        cache=cache,
        max_embedding_calls=5,
    )
    record = record_efficiency(sel, outcome="COMPLETE")
    spanwise.shutdown()
    [row] = rows(home / "spanwise.db")
    assert row["run_id"] == "run-1" and row["phase_id"] == "plan" and row["outcome"] == "COMPLETE"
    assert row["budget_mode"] == "semantic" and row["fallback_reason"] is None
    assert row["context_budget_cap_tokens"] == 200
    assert row["context_budget_selected_tokens_est"] == sel.used_tokens_est
    assert row["files_kept"] == sel.files_kept_count
    assert row["files_omitted"] == sel.files_omitted_count
    assert row["deliverables_count"] == 1 and row["context_files_total"] == 4
    assert row["artifact_substitutions_count"] == 1
    assert row["artifact_tokens_used_est"] == 6
    assert row["fullfile_tokens_avoided_est"] == sel.fullfile_tokens_avoided_est > 0
    assert json.loads(str(row["substituted_paths"])) == ["docs/intro.md"]
    assert (row["embedding_cache_misses"], row["embedding_calls_made"]) == (4, 1)
    assert row["embedding_cap_value"] == 5
    assert row["trace_id"] == record.trace_id and row["span_id"] == record.span_id


def test_metrics_show_in_the_trace_as_budget_and_embedding_spans(
    tmp_path: Path, embedder: CountingEmbedder, cache: EmbeddingCache
) -> None:
    home = tmp_path / "home"
    spanwise.configure("trace", home=home)
    with spanwise.span("phase build"):
        sel = select_context(files(), "cache", 10_000, embedder=embedder, cache=cache, phase="b")
        record = record_efficiency(sel, outcome="COMPLETE")
    spanwise.shutdown()
    spans = rows(home / "spanwise.db", "SELECT name, kind, trace_id, attributes FROM spans")
    by_name = {s["name"]: s for s in spans}
    assert by_name["select_context"]["kind"] == "budget"
    assert by_name["embedding cache lookup"]["kind"] == "embedding"
    assert by_name["embeddings test-bow"]["kind"] == "embedding"
    assert by_name["efficiency b"]["kind"] == "budget"
    assert {s["trace_id"] for s in spans} == {record.trace_id}
    # The run id defaults to the trace the phase ran in.
    assert record.run_id == record.trace_id
    attrs = json.loads(str(by_name["efficiency b"]["attributes"]))
    assert attrs["efficiency.outcome"] == "COMPLETE"
    assert attrs["efficiency.embedding_cache_misses"] == 5
    lookup = json.loads(str(by_name["embedding cache lookup"]["attributes"]))
    assert lookup["efficiency.embedding_cache_misses"] == 5


def test_the_same_run_phase_and_outcome_is_one_row(tmp_path: Path) -> None:
    home = tmp_path / "home"
    spanwise.configure("trace", home=home)
    sel = select_context(files(), "q", 100, run="r", phase="p")
    for _ in range(3):
        record_efficiency(sel, outcome="COMPLETE")
        spanwise.flush()
    record_efficiency(sel, outcome="FAILED")
    bigger = select_context(files(), "q", 10_000, run="r", phase="p")
    record_efficiency(bigger, outcome="COMPLETE")  # the latest write wins
    spanwise.shutdown()
    found = rows(home / "spanwise.db", "SELECT outcome, context_budget_cap_tokens FROM efficiency")
    assert sorted((r["outcome"], r["context_budget_cap_tokens"]) for r in found) == [
        ("COMPLETE", 10_000),
        ("FAILED", 100),
    ]


WRITER = """
import sys, time, pathlib
import spanwise
from spanwise.efficiency import record_efficiency, select_context
spanwise.configure("trace")
go = pathlib.Path(sys.argv[1])
while not go.exists():
    time.sleep(0.005)
files = {"a.py": "alpha " * 100, "b.py": "beta " * 100}
for i in range(30):
    sel = select_context(files, "alpha", 80 + i, run="shared-run", phase=f"p{i % 5}")
    record_efficiency(sel, outcome="COMPLETE" if i % 2 else "FAILED")
    spanwise.flush()
spanwise.shutdown()
"""


def test_two_processes_writing_the_same_keys_leave_one_row_per_key(tmp_path: Path) -> None:
    import os

    home = tmp_path / "home"
    go = tmp_path / "go"
    env = dict(os.environ, SPANWISE_HOME=str(home))
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(go)], env=env, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    found = rows(home / "spanwise.db", "SELECT run_id, phase_id, outcome FROM efficiency")
    keys = [(r["run_id"], r["phase_id"], r["outcome"]) for r in found]
    assert len(keys) == len(set(keys)) == 10  # 5 phases × 2 outcomes
    spans = rows(home / "spanwise.db", "SELECT COUNT(*) AS n FROM spans WHERE kind = 'budget'")
    assert spans[0]["n"] == 2 * 30 * 2  # both processes' spans are all there


def test_stats_total_average_and_count(tmp_path: Path, cache: EmbeddingCache) -> None:
    spanwise.configure("trace", home=tmp_path / "home")
    e = CountingEmbedder()
    f = files()
    s1 = select_context(f, "cache", 100, run="r", phase="p1", embedder=e, cache=cache)
    s2 = select_context(f, "cache", 300, run="r", phase="p2", embedder=e, cache=cache)
    s3 = select_context(
        f,
        "cache",
        100,
        run="r",
        phase="p3",
        embedder=e,
        cache=cache,
        max_embedding_calls=0,
        artifacts={"docs/intro.md": "Intro."},
    )
    record_efficiency(s1, outcome="COMPLETE")
    record_efficiency(s2, outcome="COMPLETE")
    record_efficiency(s3, outcome="FAILED")
    record_efficiency(select_context(f, "x", 50, run="other", phase="p"), outcome="COMPLETE")
    stats = efficiency_stats("r")
    used = s1.used_tokens_est + s2.used_tokens_est + s3.used_tokens_est
    assert stats["total_phases"] == stats["distinct_phases"] == 3
    assert stats["total_budget_cap_tokens"] == 500
    assert stats["total_budget_selected_tokens_est"] == used
    assert stats["budget_utilization"] == pytest.approx(used / 500)
    assert stats["avg_selected_tokens_per_phase"] == pytest.approx(used / 3)
    assert (stats["semantic_mode_count"], stats["lexical_mode_count"]) == (2, 1)
    assert stats["fallback_reason_counts"] == {"disabled": 1}
    assert stats["outcome_counts"] == {"COMPLETE": 2, "FAILED": 1}
    assert stats["total_embedding_cache_hits"] == 5 and stats["total_embedding_cache_misses"] == 5
    assert stats["embedding_cache_hit_rate"] == 0.5
    assert stats["total_embedding_calls"] == 1
    assert stats["total_artifact_substitutions"] == s3.artifact_substitutions_count == 1
    assert stats["total_fullfile_tokens_avoided_est"] == s3.fullfile_tokens_avoided_est
    assert [r["phase_id"] for r in efficiency_records("r")] == ["p1", "p2", "p3"]


def test_stats_of_an_empty_run_have_the_same_shape(tmp_path: Path) -> None:
    assert efficiency_stats("nothing-yet")["total_phases"] == 0  # no store at all
    spanwise.configure("trace", home=tmp_path / "home")
    record_efficiency(select_context(files(), "x", 50, run="r", phase="p"), outcome="COMPLETE")
    full, empty = efficiency_stats("r"), efficiency_stats("never-ran")
    assert set(full) == set(empty)
    assert empty["run_id"] == "never-ran"
    assert empty["total_phases"] == 0 and empty["budget_utilization"] == 0.0
    assert empty["outcome_counts"] == {} and empty["fallback_reason_counts"] == {}
    assert empty["embedding_cache_hit_rate"] is None
    assert empty["avg_artifact_substitutions_per_phase"] == 0.0


def test_records_keep_at_most_ten_substituted_paths(tmp_path: Path) -> None:
    spanwise.configure("trace", home=tmp_path / "home")
    f = {f"f{i:02}.py": "abcd" * 100 for i in range(25)}
    sel = select_context(f, "x", 100_000, artifacts={p: "s" for p in f}, run="r", phase="p")
    record = record_efficiency(sel, outcome="COMPLETE")
    assert record.artifact_substitutions_count == 25
    assert len(record.substituted_paths) == 10
    [stored] = efficiency_records("r")
    assert stored["substituted_paths"] == [f"f{i:02}.py" for i in range(10)]


def test_one_compact_json_log_line(caplog: pytest.LogCaptureFixture) -> None:
    sel = select_context(files(), "cache", 100, run="r", phase="p")
    with caplog.at_level(logging.INFO, logger="spanwise.efficiency"):
        record_efficiency(sel, outcome="COMPLETE")
    [entry] = [r for r in caplog.records if r.name == "spanwise.efficiency"]
    line = entry.getMessage()
    assert "\n" not in line and ", " not in line and ": " not in line
    data = json.loads(line)
    assert data["event"] == "token_efficiency"
    assert data["run_id"] == "r" and data["phase_id"] == "p" and data["outcome"] == "COMPLETE"
    assert data["budget_mode"] == "lexical"
    assert data["context_budget_cap_tokens"] == 100
    for content in files().values():
        assert content[:40] not in line  # counts and paths, never contents


def test_off_mode_writes_nothing(tmp_path: Path) -> None:
    record = record_efficiency(select_context(files(), "x", 10, run="r", phase="p"), outcome="OK")
    assert record.trace_id is None
    assert not (tmp_path / "spanwise-home" / "spanwise.db").exists()


def test_metrics_mode_keeps_the_budget_span_in_the_summary(tmp_path: Path) -> None:
    spanwise.configure("metrics", home=tmp_path / "home")
    record_efficiency(select_context(files(), "x", 10, run="r", phase="p"), outcome="OK")
    summary = spanwise.summary()
    assert summary["time_by_span_name"]["efficiency p"]["count"] == 1
    assert summary["time_by_span_name"]["select_context"]["count"] == 1
    assert not (tmp_path / "home" / "spanwise.db").exists()


def test_a_record_without_a_selection(tmp_path: Path) -> None:
    spanwise.configure("trace", home=tmp_path / "home")
    record = record_efficiency(run="r", phase="crashed-early", outcome="FAILED")
    assert record.budget_mode == "unknown" and record.files_kept == 0
    assert efficiency_stats("r")["outcome_counts"] == {"FAILED": 1}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"run": "r", "phase": "p", "outcome": ""}, "outcome must be a non-empty string"),
        ({"phase": "p", "outcome": "OK"}, "run must be a non-empty string"),
        ({"run": "r", "outcome": "OK"}, "phase must be a non-empty string"),
    ],
)
def test_bad_record_arguments(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        record_efficiency(**kwargs)  # type: ignore[arg-type]
