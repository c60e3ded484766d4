"""The CLI as a user sees it: text rendered through an injected console, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO

import pytest
from click.testing import CliRunner
from rich.console import Console

import spanwise
from spanwise.cli import cli

SPANWISE = [sys.executable, "-m", "spanwise.cli"]


def run(*args: str) -> str:
    out = StringIO()
    cli.main(list(args), standalone_mode=False, obj={"console": Console(file=out, width=120)})
    return out.getvalue()


def run_failing(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, list(args), obj={"console": Console(file=StringIO(), width=120)}
    )
    return result.exit_code, result.output


@pytest.fixture
def recorded(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("SPANWISE_HOME", str(home))
    spanwise.configure("trace", session="chat-42")
    with spanwise.span("answer", kind="agent") as first:
        with spanwise.span("plan", kind="node"):
            spanwise.record_llm_call(
                provider="openai",
                model="gpt-4o",
                input_tokens=10_000,
                cache_read_tokens=4_000,
                output_tokens=1_000,
                duration_ms=5,
            )
        with spanwise.span("local", kind="node"):
            spanwise.record_llm_call(
                provider="ollama", model="llama-private", input_tokens=50, output_tokens=5
            )
    spanwise.configure("trace", session="batch")
    with pytest.raises(ValueError):
        with spanwise.span("import job") as second:
            raise ValueError("bad row 7")
    spanwise.shutdown()
    return {"first": f"{first.trace_id:032x}", "second": f"{second.trace_id:032x}", "home": home}


def test_traces_lists_recent_traces(recorded):
    text = run("traces")
    lines = [line for line in text.splitlines() if line.strip()]
    assert "name" in lines[0] and "cost" in lines[0] and "status" in lines[0]
    assert "import job" in lines[1] and "error (1)" in lines[1]  # newest first
    assert "answer" in lines[2] and "$0.0300+" in lines[2] and "ok" in lines[2]


def test_traces_filters_and_json(recorded):
    data = json.loads(run("traces", "--status", "error", "--json"))
    assert [t["name"] for t in data] == ["import job"]
    data = json.loads(run("traces", "--session", "chat-42", "--json"))
    assert [t["trace_id"] for t in data] == [recorded["first"]]
    assert data[0]["span_count"] == 5 and data[0]["unpriced_calls"] == 1
    assert json.loads(run("traces", "--name", "nothing-like-this", "--json")) == []
    assert "no traces recorded yet" in run("traces", "--since", "0s")


def test_trace_tree_by_unique_prefix(recorded):
    text = run("trace", recorded["first"][:6])
    assert recorded["first"] in text
    assert "answer agent" in text
    assert "plan node" in text
    assert "gpt-4o 10,000 in / 1,000 out (4,000 cached) $0.0300" in text
    assert "llama-private 50 in / 5 out unpriced" in text
    tree = run("trace", recorded["second"])
    assert "✗ ValueError: bad row 7" in tree


def test_trace_json(recorded):
    data = json.loads(run("trace", recorded["first"], "--json"))
    assert data["trace"]["name"] == "answer"
    assert {s["name"] for s in data["spans"]} == {
        "answer",
        "plan",
        "local",
        "chat gpt-4o",
        "chat llama-private",
    }
    llm = next(
        s["llm"] for s in data["spans"] if s["llm"] and s["llm"]["request_model"] == "gpt-4o"
    )
    assert llm["cost_usd"] == pytest.approx(0.03)


def test_unknown_and_ambiguous_ids_are_one_line_errors(recorded):
    code, out = run_failing("trace", "ffffffffffff")
    assert code == 1 and out == "Error: no trace with id 'ffffffffffff'\n"
    code, out = run_failing("trace", "not-hex")
    assert code == 1 and out.count("\n") == 1
    # Make an ambiguous prefix: two trace ids sharing their first digit are likely
    # among many; record until one exists.
    spanwise.configure("trace")
    ids = set()
    while True:
        with spanwise.span("x") as s:
            pass
        first = f"{s.trace_id:032x}"[0]
        if first in ids:
            break
        ids.add(first)
    spanwise.shutdown()
    code, out = run_failing("trace", first)
    assert code == 1 and "is ambiguous" in out and out.count("\n") == 1


def test_cost_by_model_lists_unpriced_separately(recorded):
    text = run("cost", "--by", "model")
    assert "gpt-4o" in text and "$0.0300" in text
    assert "llama-private" in text and "unpriced" in text
    assert "total" in text and "$0.0300+" in text
    assert "unpriced (no price known, not counted as $0): llama-private" in text


@pytest.mark.parametrize("by, key", [("session", "chat-42"), ("name", "answer"), ("node", "plan")])
def test_cost_groupings(recorded, by, key):
    rows = json.loads(run("cost", "--by", by, "--json"))
    row = next(r for r in rows if r["key"] == key)
    assert row["calls"] >= 1 and row["cost_usd"] == pytest.approx(0.03)


def test_cost_by_day_and_since(recorded):
    rows = json.loads(run("cost", "--by", "day", "--since", "1h", "--json"))
    assert len(rows) == 1 and rows[0]["calls"] == 2 and rows[0]["unpriced_calls"] == 1
    code, out = run_failing("cost", "--since", "yesterday")
    assert code == 1 and "invalid --since 'yesterday'" in out


def test_status_shows_counts_and_drops(recorded):
    text = run("status")
    assert "records   2 traces, 6 spans, 2 LLM calls" in text
    assert (
        "dropped   queue_full 0, shutdown 0, write_error 0 (over 2 recorded process runs)" in text
    )
    data = json.loads(run("status", "--json"))
    assert data["counts"]["spans"] == 6


def test_corrupt_store_is_one_line(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "spanwise.db").write_bytes(b"garbage" * 1000)
    monkeypatch.setenv("SPANWISE_HOME", str(home))
    code, out = run_failing("traces")
    assert code == 1
    assert out.startswith("Error: cannot open store") and out.count("\n") == 1


def test_missing_store_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("SPANWISE_HOME", str(tmp_path / "nothing-here"))
    code, out = run_failing("traces")
    assert code == 1 and "nothing has been recorded yet" in out


def test_exec_runs_a_program_in_one_trace_and_prints_its_summary(tmp_path):
    home = tmp_path / "home"
    app = tmp_path / "app.py"
    app.write_text(
        "import os, spanwise\n"
        "print('child sees', os.environ['TRACEPARENT'][:3])\n"
        "with spanwise.span('child step'):\n"
        "    spanwise.record_llm_call(provider='openai', model='gpt-4o-mini',\n"
        "                             input_tokens=1000, output_tokens=100)\n"
        "raise SystemExit(3)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPANWISE_")}
    env["SPANWISE_HOME"] = str(home)
    result = subprocess.run(
        [*SPANWISE, "exec", "--", sys.executable, str(app)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3
    assert "child sees 00-" in result.stdout
    assert "3 spans" in result.stdout and "1 LLM calls" in result.stdout
    # gpt-4o-mini: $0.15 / $0.60 per MTok → 0.00021
    assert "$0.000210" in result.stdout
    data = json.loads(
        subprocess.run(
            [*SPANWISE, "traces", "--json"], env=env, capture_output=True, text=True
        ).stdout
    )
    assert len(data) == 1 and data[0]["span_count"] == 3 and data[0]["status"] == "error"


def test_mode_command_status(tmp_path):
    text = run("mode", "on", "--home", str(tmp_path / "h"))
    assert "spanwise mode is now trace" in text
    assert "mode trace (from config.toml)" in run("mode", "status", "--home", str(tmp_path / "h"))
