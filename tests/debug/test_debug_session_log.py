"""Session logs: with a session set, every record is also one JSON line in
SPANWISE_HOME/sessions/<session>/events.jsonl, with its trace id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import spanwise


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_record_is_one_line_with_its_trace_id(tmp_path: Path) -> None:
    home = Path(os.environ["SPANWISE_HOME"])
    spanwise.configure("trace", home=home, session="planner-run-1")
    lock = spanwise.Lock("session-state")
    state = {"step": 0}
    try:
        with spanwise.span("agent_step") as span:
            spanwise.record_llm_call(
                provider="openai", model="gpt-4o", input_tokens=5, output_tokens=2
            )
            with lock, spanwise.track_state("session", lambda: state):
                state["step"] = 1
            with pytest.raises(KeyError), spanwise.capture_errors():
                {}["x"]
        spanwise.flush()
    finally:
        spanwise.configure("off")
    lines = _lines(home / "sessions" / "planner-run-1" / "events.jsonl")
    trace = f"{span.trace_id:032x}"
    assert all(line["trace_id"] == trace for line in lines)
    kinds = [
        (line["record_type"], line.get("event") or line.get("name") or line.get("label"))
        for line in lines
    ]
    assert ("lock_event", "requested") in kinds and ("lock_event", "released") in kinds
    assert ("state_diff", "session") in kinds and ("span", "agent_step") in kinds
    assert ("span", "chat gpt-4o") in kinds
    [error] = [line for line in lines if line["record_type"] == "error"]
    assert error["error_type"] == "KeyError" and error["session"] == "planner-run-1"
    assert (home / "sessions" / "planner-run-1" / "errors" / f"{trace}_error.json").exists()


def test_the_session_can_come_from_the_environment_in_another_process(tmp_path: Path) -> None:
    home = tmp_path / "child-home"
    env = dict(
        os.environ,
        SPANWISE_MODE="trace",
        SPANWISE_HOME=str(home),
        SPANWISE_SESSION="../weird session/",
    )
    code = textwrap.dedent("""
        import spanwise
        with spanwise.span("child"):
            pass
        spanwise.shutdown()
    """)
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    [session_dir] = (home / "sessions").iterdir()
    assert session_dir.name == ".._weird_session_"  # made safe: no path traversal
    [line] = _lines(session_dir / "events.jsonl")
    assert line["name"] == "child" and len(line["trace_id"]) == 32


def test_without_a_session_there_is_no_log_and_errors_go_to_default(tmp_path: Path) -> None:
    home = Path(os.environ["SPANWISE_HOME"])
    spanwise.configure("trace", home=home)
    try:
        with pytest.raises(ValueError), spanwise.capture_errors():
            raise ValueError("no session")
        spanwise.flush()
    finally:
        spanwise.configure("off")
    assert [p.name for p in (home / "sessions").iterdir()] == ["default"]
    assert not (home / "sessions" / "default" / "events.jsonl").exists()
    assert len(list((home / "sessions" / "default" / "errors").iterdir())) == 1
