"""``spanwise efficiency`` as a user sees it, through an injected console."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

import spanwise
from efficiency.helpers import CountingEmbedder, files
from spanwise.cli import cli
from spanwise.efficiency import EmbeddingCache, record_efficiency, select_context


def run_cli(*args: str) -> tuple[int, str]:
    out = StringIO()
    result = CliRunner().invoke(
        cli, list(args), obj={"console": Console(file=out, width=140, highlight=False)}
    )
    return result.exit_code, out.getvalue() + (result.output or "")


@pytest.fixture
def recorded(tmp_path: Path, cache: EmbeddingCache) -> str:
    """Two runs: run-a with a semantic, a fallback and a failed phase; run-b lexical."""
    spanwise.configure("trace", home=tmp_path / "spanwise-home")
    e = CountingEmbedder()
    f = files()
    with spanwise.span("agent run"):
        record_efficiency(
            select_context(
                f,
                "cache",
                120,
                run="run-a",
                phase="plan",
                embedder=e,
                cache=cache,
                pinned=["src/budget/tokens.py"],
                artifacts={"docs/intro.md": "Intro."},
            ),
            outcome="COMPLETE",
        )
        record_efficiency(
            select_context(f, "cache", 120, run="run-a", phase="build", embedder=e, cache=cache),
            outcome="COMPLETE",
        )
        record_efficiency(
            select_context(
                f,
                "cache",
                80,
                run="run-a",
                phase="test",
                embedder=e,
                cache=cache,
                max_embedding_calls=0,
            ),
            outcome="FAILED",
        )
    record_efficiency(select_context(f, "http", 60, run="run-b", phase="p"), outcome="COMPLETE")
    spanwise.shutdown()
    return "run-a"


def test_per_phase_table_and_run_totals(recorded: str) -> None:
    code, text = run_cli("efficiency", "--run", recorded)
    assert code == 0, text
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0].split() == [
        "phase",
        "outcome",
        "mode",
        "tokens",
        "used/cap",
        "kept",
        "saved",
        "cache",
        "calls",
    ]
    plan = next(line for line in lines if line.startswith("plan")).split()
    # 3 unpinned files + the query looked up in a cold cache: 0% hits, 1 call of 100.
    assert plan[:3] == ["plan", "COMPLETE", "semantic"]
    assert plan[-2:] == ["0%", "1/100"]
    assert plan[-3] == "133"  # tokens saved by the intro's artifact
    build = next(line for line in lines if line.startswith("build")).split()
    assert build[-2:] == ["80%", "1/100"]  # the new query missed, the 4 files hit
    test = next(line for line in lines if line.startswith("test")).split()
    assert test[:4] == ["test", "FAILED", "lexical", "(off)"]
    assert test[-2:] == ["-", "0/0"]
    summary = lines[lines.index(next(x for x in lines if x.startswith("run run-a"))) :]
    assert summary == [
        "run run-a: 3 phase records, semantic 2 / lexical 1",
        "outcomes: COMPLETE 2, FAILED 1",
        "budget: 273/320 tokens selected (85%)",
        "artifacts: 1 substitution, 133 tokens avoided",
        "embeddings: cache hit rate 44% (4/9), 2 calls",
        "lexical fallbacks: disabled 1",
    ]


def test_runs_listing(recorded: str) -> None:
    code, text = run_cli("efficiency")
    assert code == 0, text
    header, *body = [line.split() for line in text.splitlines() if line.strip()]
    assert header[:3] == ["run", "phases", "sem/lex"]
    assert body[0][:3] == ["run-b", "1", "0/1"]  # most recent first
    assert body[1][:3] == ["run-a", "3", "2/1"]
    assert body[1][3:] == [
        "273/320",
        "85%",
        "133",
        "44%",
        "2",
        "off",
        "1",
        "COMPLETE",
        "2,",
        "FAILED",
        "1",
    ]


def test_json_output(recorded: str) -> None:
    code, text = run_cli("efficiency", "--run", recorded, "--json")
    assert code == 0, text
    data = json.loads(text)
    assert data["run"]["run_id"] == "run-a" and data["run"]["total_phases"] == 3
    assert [p["phase_id"] for p in data["phases"]] == ["plan", "build", "test"]
    assert data["phases"][0]["substituted_paths"] == ["docs/intro.md"]
    code, text = run_cli("efficiency", "--json")
    assert [r["run_id"] for r in json.loads(text)] == ["run-b", "run-a"]


def test_an_unknown_run_is_one_line_and_exit_1(recorded: str) -> None:
    code, text = run_cli("efficiency", "--run", "nope")
    assert code == 1
    assert text.strip() == "Error: no efficiency records for run 'nope'"


def test_nothing_recorded_yet(tmp_path: Path) -> None:
    spanwise.configure("trace", home=tmp_path / "spanwise-home")
    with spanwise.span("x"):
        pass
    spanwise.shutdown()
    code, text = run_cli("efficiency")
    assert code == 0 and "no efficiency records yet" in text


def test_the_trace_view_shows_the_phases_of_that_trace(recorded: str) -> None:
    code, text = run_cli("traces", "--json")
    trace_id = next(t["trace_id"] for t in json.loads(text) if t["name"] == "agent run")
    code, text = run_cli("trace", trace_id[:12])
    assert code == 0, text
    assert "token efficiency" in text
    assert "plan" in text and "build" in text and "lexical (off)" in text
    code, text = run_cli("trace", trace_id[:12], "--json")
    assert [r["phase_id"] for r in json.loads(text)["efficiency"]] == ["plan", "build", "test"]
