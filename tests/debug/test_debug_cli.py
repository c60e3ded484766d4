"""The CLI views of the debugging toolkit, rendered through an injected console:
``spanwise trace ID`` sections, ``errors list|show``, ``locks``, ``perf`` and ``compare``."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from debug_helpers import run_cli, run_cli_json

import spanwise
from spanwise.testing import FakeClock


@pytest.fixture
def home() -> Path:
    return Path(os.environ["SPANWISE_HOME"])


def _agent_run(home: Path) -> str:
    """One trace with an LLM call, a lock, a state change and an error; returns its id."""
    spanwise.configure("trace", home=home, capture_content=True)
    lock = spanwise.Lock("session-state")
    state: dict[str, Any] = {"tasks": [{"id": "task_1", "status": "todo"}]}

    def pick_task(tasks: list[dict[str, Any]], task_id: str) -> Any:
        index = {t["id"]: t for t in tasks}
        return index[task_id]

    @spanwise.capture_errors(state=lambda: state)
    def act(task_id: str) -> Any:
        return pick_task(state["tasks"], task_id)

    try:
        with spanwise.span("agent run") as root:
            spanwise.record_llm_call(
                provider="openai",
                model="gpt-4o",
                input_tokens=900,
                output_tokens=12,
                prompt="which task next?",
                response='{"task_id": "task_42"}',
                name="llm_suggest",
            )
            with lock, spanwise.track_state("session", lambda: state):
                state["tasks"][0]["status"] = "doing"
            with pytest.raises(KeyError):
                act("task_42")
        spanwise.flush()
    finally:
        spanwise.configure("off")
    return f"{root.trace_id:032x}"


def test_trace_view_shows_error_llm_calls_locks_and_state_diffs(home: Path) -> None:
    trace = _agent_run(home)
    out = run_cli("trace", trace[:10])
    assert "agent run" in out
    assert "Error reports (1)" in out
    assert "KeyError: 'task_42'" in out
    assert 'task_id = "task_42"' in out  # the failing frame's own variables
    assert "LLM calls in this trace (1)" in out and "gpt-4o" in out and "900 / 12" in out
    assert "Lock events (3)" in out and "session-state" in out
    assert "State diffs (1)" in out
    assert "replace /tasks/0/status" in out and '"doing"' in out

    data = run_cli_json("trace", trace)
    assert [e["error_type"] for e in data["errors"]] == ["KeyError"]
    assert [c["response_model"] or c["request_model"] for c in data["llm_calls"]] == ["gpt-4o"]
    assert [e["event"] for e in data["lock_events"]] == ["requested", "acquired", "released"]
    assert data["state_diffs"][0]["patch"] == [
        {"op": "replace", "path": "/tasks/0/status", "value": "doing"}
    ]


def test_errors_list_and_show(home: Path) -> None:
    trace = _agent_run(home)
    listing = run_cli("errors")
    assert "KeyError" in listing and trace[:12] in listing and "pick_task" in listing
    [row] = run_cli_json("errors", "list")
    error_id = row["error_id"]

    shown = run_cli("errors", "show", error_id[:8])
    assert shown == run_cli("errors", "show", trace[:8])  # by error id or by trace id
    assert "KeyError: 'task_42'" in shown
    assert "← raised here" in shown and "> return index[task_id]" in shown
    assert 'task_id = "task_42"' in shown
    assert "State snapshot (callable)" in shown and '"status": "doing"' in shown
    assert "LLM calls in this trace (1)" in shown and "last before the error" in shown
    assert 'last response: "{\\"task_id\\": \\"task_42\\"}"' in shown
    assert f"{trace}_error.json" in shown.replace("\n", "")

    data = run_cli_json("errors", "show", error_id)
    assert data["frames"][-1]["locals"]["task_id"] == "task_42"
    assert data["report_file"].endswith(f"{trace}_error.json")


def test_errors_show_with_an_unknown_id_is_one_line_and_exit_1(home: Path) -> None:
    _agent_run(home)
    from spanwise.cli import cli

    result = CliRunner().invoke(cli, ["errors", "show", "ffff"], obj={})
    assert result.exit_code == 1
    assert result.output.strip() == "Error: no error report with error or trace id 'ffff'"


def test_errors_list_on_an_empty_store(home: Path) -> None:
    spanwise.configure("trace", home=home)
    with spanwise.span("nothing failed"):
        pass
    spanwise.flush()
    spanwise.configure("off")
    assert run_cli("errors").strip() == "no error reports recorded"


def test_locks_view_stats_waiters_timeline_and_problems(home: Path) -> None:
    spanwise.configure("trace", home=home, clock=FakeClock())
    clock_lock = spanwise.Lock("config")
    from spanwise._runtime import RT

    try:
        for ms in range(1, 11):  # holds of 1..10 ms on a fake clock
            with clock_lock:
                RT.perf.__self__.advance(ms=ms)  # type: ignore[attr-defined]
        spanwise.flush()
    finally:
        spanwise.configure("off")
    stats = run_cli_json("locks", "--lock", "config")["locks"]
    assert stats == [
        {
            "lock": "config",
            "kind": "thread",
            "acquisitions": 10,
            "contended": 0,
            "timeouts": 0,
            "cancelled": 0,
            "wait_p50_ns": 0,
            "wait_p95_ns": 0,
            "wait_max_ns": 0,
            "wait_total_ns": 0,
            "hold_p50_ns": 5_000_000,
            "hold_p95_ns": 10_000_000,
            "hold_max_ns": 10_000_000,
            "hold_total_ns": 55_000_000,
        }
    ]

    spanwise.configure("trace", home=home)
    try:
        shared = spanwise.Lock("shared")
        a, b = spanwise.Lock("A"), spanwise.Lock("B")
        barrier = threading.Barrier(2)

        def worker() -> None:
            for _ in range(3):
                with shared:
                    time.sleep(0.005)

        def ab() -> None:
            with a:
                barrier.wait()
                if b.acquire(timeout=0.6):
                    b.release()

        def ba() -> None:
            with b:
                barrier.wait()
                if a.acquire(timeout=0.6):
                    a.release()

        threads = [
            threading.Thread(target=f, name=n)
            for f, n in ((worker, "worker-1"), (worker, "worker-2"), (ab, "t-ab"), (ba, "t-ba"))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        spanwise.flush()
    finally:
        spanwise.configure("off")
    out = run_cli("locks")
    assert "DEADLOCK" in out and "holds A, waits for B" in out and "holds B, waits for A" in out
    assert "lock order inversion" in out
    for header in (
        "acquired",
        "contended",
        "timeouts",
        "wait p50 / p95 / max",
        "hold p50 / p95 / max",
    ):
        assert header in out
    assert "Top waiters" in out and "waited" in out
    assert "Timeline" in out and "released" in out
    only_shared = run_cli_json("locks", "--lock", "shared")
    assert [s["lock"] for s in only_shared["locks"]] == ["shared"]
    assert only_shared["locks"][0]["acquisitions"] == 6
    assert only_shared["locks"][0]["contended"] >= 1
    assert {w["lock"] for w in only_shared["top_waiters"]} == {"shared"}


def test_locks_filtered_by_trace(home: Path) -> None:
    trace = _agent_run(home)
    data = run_cli_json("locks", "--trace", trace[:10])
    assert {e["trace_id"] for e in data["events"]} == {trace}
    assert run_cli("locks", "--lock", "no-such-lock").strip() == (
        "no lock events recorded for this filter"
    )


def _timed_run(
    clock: FakeClock,
    name: str,
    steps: list[tuple[str, float]],
    llm_tokens: int = 0,
    fail: str | None = None,
) -> str:
    with spanwise.span(name) as root:
        clock.advance(ms=5)
        for step, ms in steps:
            with spanwise.span(step) as s:
                clock.advance(ms=ms)
                if step == fail:
                    s.set_status("error", "went wrong")
        if llm_tokens:
            with spanwise.span("llm_suggest"):
                clock.advance(ms=30)
                spanwise.record_llm_call(
                    provider="openai",
                    model="gpt-4o",
                    input_tokens=llm_tokens,
                    output_tokens=10,
                    duration_ms=30,
                )
    return f"{root.trace_id:032x}"


def test_perf_names_the_bottleneck(home: Path) -> None:
    clock = FakeClock()
    spanwise.configure("trace", home=home, clock=clock)
    try:
        first = _timed_run(
            clock,
            "plan",
            [("load_state", 10), ("llm_call", 30), ("llm_call", 30), ("save_state", 5)],
        )
        _timed_run(clock, "plan", [("load_state", 12), ("llm_call", 20), ("save_state", 5)])
        spanwise.flush()
    finally:
        spanwise.configure("off")
    shown = run_cli("perf", "show", first[:12])
    assert "Bottleneck: llm_call ×2 (internal): 60.0ms of self time, 75% of the trace" in shown
    breakdown = run_cli_json("perf", "show", first)
    assert breakdown["wall_ns"] == 80_000_000
    assert [(r["name"], r["self_ns"]) for r in breakdown["by_name"]][:2] == [
        ("llm_call", 60_000_000),
        ("load_state", 10_000_000),
    ]

    across = run_cli("perf")
    assert "across 2 trace(s)" in across
    rows = run_cli_json("perf")["by_name"]
    assert rows[0]["name"] == "llm_call" and rows[0]["count"] == 3
    assert rows[0]["self_ns"] == 80_000_000 and rows[0]["max_ns"] == 30_000_000


def test_compare_two_runs(home: Path) -> None:
    clock = FakeClock()
    spanwise.configure("trace", home=home, clock=clock)
    try:
        a = _timed_run(clock, "run", [("fetch", 10), ("parse", 20), ("cleanup", 1)], llm_tokens=100)
        b = _timed_run(
            clock, "run", [("fetch", 10), ("parse", 50), ("index", 7)], llm_tokens=400, fail="fetch"
        )
        spanwise.flush()
    finally:
        spanwise.configure("off")
    out = run_cli("compare", a[:12], b[:12])
    assert "Added in B (1)" in out and "+ run / index" in out
    assert "Missing in B (1)" in out and "- run / cleanup" in out
    assert "Slower in B" in out and "run / parse: 20.0ms → 50.0ms (+30.0ms, 2.5×)" in out
    assert "Costlier in B (1)" in out and "run / llm_suggest / chat gpt-4o" in out
    assert "Errors that differ (1)" in out and "run / fetch: A ok | B error: went wrong" in out
    data = run_cli_json("compare", a, b)
    assert [r["path"] for r in data["slower"]] == ["run", "run / parse"]
    assert data["costlier"][0]["b_tokens"] == 410
    same = run_cli("compare", a, a)
    assert "no differences" in same
