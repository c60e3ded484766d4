"""``spanwise prune`` (count first, confirmation, progress, everything of a trace goes)
and ``spanwise export`` (JSONL as the exporter writes it; OTLP/JSON lines that ingest
back to the same totals)."""

from __future__ import annotations

import json
import sqlite3
import time
from io import StringIO
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

import spanwise
from server.conftest import make_client
from server.helpers import DAY_NS, record_many, record_sample, sqlite_url
from spanwise.cli import cli
from spanwise.debug import capture_exception
from spanwise.exporters.jsonl import JsonlExporter, read_jsonl
from spanwise.testing import FakeClock


def invoke(*args: str, input: str | None = None) -> tuple[int, str]:
    out = StringIO()
    result = CliRunner().invoke(
        cli, list(args), input=input, obj={"console": Console(file=out, width=120)}
    )
    return result.exit_code, out.getvalue() + result.output


def counts(store: str) -> dict[str, int]:
    with sqlite3.connect(store[len("sqlite://") :]) as conn:
        return {
            t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("traces", "spans", "llm_calls", "blobs", "errors", "pipeline_stats")
        }


@pytest.fixture
def aged_store(tmp_path: Path) -> str:
    """Sample traces from 40 days ago (with a blob and an error), 25 old one-span traces,
    and 5 recent ones."""
    home = tmp_path / "aged"
    record_sample(home, start_ns=time.time_ns() - 40 * DAY_NS)
    record_many(home, 25, start_ns=time.time_ns() - 35 * DAY_NS, name="old")
    record_many(home, 5, start_ns=time.time_ns() - 3_600 * 10**9, name="recent")
    for name, clock in (
        ("old failure", FakeClock(time.time_ns() - 31 * DAY_NS)),
        ("recent failure", None),
    ):
        spanwise.configure("trace", home=home, clock=clock)
        with spanwise.span(name):
            capture_exception(RuntimeError(name))
        spanwise.shutdown()
    spanwise.configure("off")
    return sqlite_url(home)


def test_prune_counts_first_and_asks(aged_store: str) -> None:
    before = counts(aged_store)
    code, out = invoke("prune", "--older-than", "30d", "--store", aged_store, input="n\n")
    assert code == 1
    assert "29 traces older than 30d" in out and "35 spans, 3 LLM calls" in out
    assert "Delete them?" in out and "nothing deleted" in out
    assert counts(aged_store) == before


def test_prune_deletes_old_traces_and_everything_they_own(aged_store: str) -> None:
    code, out = invoke("prune", "--older-than", "30d", "--store", aged_store, "--yes")
    assert code == 0, out
    assert "pruning" in out and "29/29" in out
    assert "deleted 29 traces" in out
    after = counts(aged_store)
    assert after["traces"] == 6 and after["spans"] == 6 and after["llm_calls"] == 0
    assert after["errors"] == 1  # the recent one
    assert after["blobs"] == 0  # the old prompt and response are no longer referenced
    assert after["pipeline_stats"] >= 1  # the recent recorder's counters stay
    names = [t["name"] for t in json.loads(invoke("traces", "--json", "--store", aged_store)[1])]
    assert all(n.startswith("recent") for n in names)
    code, out = invoke("prune", "--older-than", "30d", "--store", aged_store, "--yes")
    assert "0 traces older than 30d" in out and "nothing to prune" in out


def test_prune_keeps_blobs_still_in_use(tmp_path: Path) -> None:
    home = tmp_path / "shared-blob"
    record_sample(home, start_ns=time.time_ns() - 40 * DAY_NS)
    record_sample(home)  # the same prompt text again, recently
    store = sqlite_url(home)
    assert counts(store)["blobs"] == 2
    invoke("prune", "--older-than", "30d", "--store", store, "--yes")
    assert counts(store)["blobs"] == 2
    with make_client(store) as c:
        trace_id = c.get("/api/traces", params={"name": "checkout"}).json()["items"][0]["trace_id"]
        gpt = next(
            s for s in c.get(f"/api/traces/{trace_id}").json()["spans"] if s["model"] == "gpt-4o"
        )
        detail = c.get(f"/api/traces/{trace_id}/spans/{gpt['span_id']}").json()
        assert detail["llm"]["transcript"][1]["content"] == "Two books."


@pytest.mark.parametrize("age", ["30", "soon", "-3d", "30x"])
def test_prune_rejects_bad_ages(empty_store: str, age: str) -> None:
    code, out = invoke("prune", "--older-than", age, "--store", empty_store, "--yes")
    assert code == 1 and f"invalid --older-than {age!r}" in out


def test_export_jsonl_matches_the_jsonl_exporter(tmp_path: Path) -> None:
    home = tmp_path / "both"
    live_jsonl = tmp_path / "live.jsonl"
    spanwise.configure("trace", home=home, capture_content=True, jsonl_path=str(live_jsonl))
    with spanwise.span("exported", kind="workflow", user="ada"):
        spanwise.record_llm_call(
            provider="openai",
            model="gpt-4o",
            input_tokens=10,
            output_tokens=2,
            prompt="hi",
            response="hello",
        )
    spanwise.shutdown()
    spanwise.configure("off")
    out_file = tmp_path / "export.jsonl"
    code, out = invoke(
        "export", "--format", "jsonl", "--output", str(out_file), "--store", sqlite_url(home)
    )
    assert code == 0 and "exported 2 spans" in out
    exported = sorted(read_jsonl(out_file), key=lambda r: r["span_id"])
    live = sorted(
        (r for r in read_jsonl(live_jsonl) if r.get("record_type") == "span"),
        key=lambda r: r["span_id"],
    )
    assert [r["span_id"] for r in exported] == [r["span_id"] for r in live]
    for ours, theirs in zip(exported, live, strict=True):
        for key in (
            "trace_id",
            "parent_span_id",
            "name",
            "kind",
            "start_ns",
            "end_ns",
            "status",
            "attributes",
        ):
            assert ours[key] == theirs[key], key
    llm = next(r for r in exported if r["kind"] == "llm")["llm"]
    assert llm["input_tokens"] == 10 and llm["cost_usd"] == pytest.approx(4.5e-5)
    assert llm["prompt"] == "hi" and llm["response"] == "hello"
    assert JsonlExporter  # the format is the exporter's own


def test_export_since_filters(tmp_path: Path) -> None:
    home = tmp_path / "since"
    record_many(home, 3, start_ns=time.time_ns() - 10 * DAY_NS, name="old")
    record_many(home, 2, start_ns=time.time_ns() - 600 * 10**9, name="new")
    _code, out = invoke("export", "--since", "1d", "--store", sqlite_url(home))
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert sorted(r["name"] for r in lines) == ["new #0", "new #1"]


def test_export_otlp_ingests_back_to_the_same_totals(sample_store: str, tmp_path: Path) -> None:
    out_file = tmp_path / "traces.otlp.jsonl"
    code, out = invoke("export", "--format", "otlp", "-o", str(out_file), "--store", sample_store)
    assert code == 0 and "exported 9 spans" in out
    lines = out_file.read_text().splitlines()
    first = json.loads(lines[0])
    span = first["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(span["traceId"]) == 32 and int(span["traceId"], 16)
    with make_client(sqlite_url(tmp_path / "copy")) as c:
        for line in lines:
            r = c.post(
                "/v1/traces", content=line.encode(), headers={"content-type": "application/json"}
            )
            assert r.status_code == 200, r.text
        copied = {t["name"]: t for t in c.get("/api/traces").json()["items"]}
    with make_client(sample_store) as c:
        original = {t["name"]: t for t in c.get("/api/traces").json()["items"]}
    assert copied.keys() == original.keys()
    for name, t in original.items():
        for key in (
            "trace_id",
            "session_id",
            "span_count",
            "error_count",
            "llm_call_count",
            "input_tokens",
            "output_tokens",
            "unpriced_calls",
            "start_ns",
            "end_ns",
        ):
            assert copied[name][key] == t[key], (name, key)
        assert copied[name]["cost_usd"] == pytest.approx(t["cost_usd"])
