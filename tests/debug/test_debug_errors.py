"""Error reports: the failing frame's locals, redaction, state snapshots, the error file,
the store row, chained exceptions, async and context-manager forms, and the exception
re-raised unchanged."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
from debug_helpers import Traced

import spanwise

SECRET = "sk-proj-" + "Q" * 40
STATE: dict[str, Any] = {"tasks": {"task_1": {"status": "todo"}}, "db_password": "pw-123456"}


def pick(tasks: dict[str, Any], task_id: str) -> Any:
    openai_api_key = SECRET  # a secret in a local of the failing frame
    attempts = 3
    assert openai_api_key and attempts
    return tasks[task_id]


def step(tasks: dict[str, Any], task_id: str) -> Any:
    chosen = task_id.upper().lower()
    return pick(tasks, chosen)


@spanwise.capture_errors(state=lambda: STATE)
def agent_loop(task_id: str) -> Any:
    tasks = STATE["tasks"]
    return step(tasks, task_id)


def _error_files(home: Path, session: str = "default") -> list[Path]:
    return sorted((home / "sessions" / session / "errors").glob("*_error*.json"))


def test_keyerror_deep_in_a_helper_gives_the_helpers_variables(traced: Traced) -> None:
    with pytest.raises(KeyError) as caught:
        agent_loop("task_42")
    err = caught.value
    assert err.args == ("task_42",)
    # The traceback is the original one: it ends in the helper that failed.
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    assert tb is not None and tb.tb_frame.f_code.co_name == "pick"

    report = err.__spanwise_report__  # type: ignore[attr-defined]
    assert report["error_type"] == "KeyError"
    assert report["error_message"] == "'task_42'"
    assert [f["function"] for f in report["frames"]] == ["agent_loop", "step", "pick"]
    assert all("spanwise" not in f["file"] for f in report["frames"])
    failing = report["frames"][-1]
    assert report["function"] == "pick" and failing["code"] == "return tasks[task_id]"
    assert failing["locals"]["task_id"] == "task_42"
    assert failing["locals"]["attempts"] == 3
    assert failing["locals"]["tasks"] == {"task_1": {"status": "todo"}}
    assert failing["locals"]["openai_api_key"] == "[REDACTED]"
    assert report["frames"][1]["locals"]["chosen"] == "task_42"
    assert report["state_snapshot"]["value"] == {
        "tasks": {"task_1": {"status": "todo"}},
        "db_password": "[REDACTED]",
    }
    assert report["trace_id"] and report["span_name"] == "agent_loop"

    traced.flush()
    files = _error_files(traced.home)
    assert [p.name for p in files] == [f"{report['trace_id']}_error.json"]
    on_disk = json.loads(files[0].read_text())
    assert on_disk["error_id"] == report["error_id"]
    assert on_disk["frames"][-1]["locals"]["task_id"] == "task_42"
    assert report["path"] == str(files[0])

    rows = traced.rows("SELECT * FROM errors")
    assert len(rows) == 1
    row = rows[0]
    assert (row["error_type"], row["function"], row["trace_id"]) == (
        "KeyError",
        "pick",
        report["trace_id"],
    )
    assert json.loads(row["frames"])[-1]["locals"]["task_id"] == "task_42"
    snapshot = traced.rows("SELECT content FROM blobs WHERE hash = ?", (row["state_hash"],))
    assert json.loads(snapshot[0]["content"])["value"]["tasks"] == STATE["tasks"]
    trace = traced.rows("SELECT name, status FROM traces WHERE trace_id = ?", (row["trace_id"],))
    assert trace == [{"name": "agent_loop", "status": "error"}]

    spanwise.shutdown()
    for path in [traced.home / "spanwise.db", files[0]]:
        assert SECRET.encode() not in path.read_bytes()
        assert b"pw-123456" not in path.read_bytes()


def test_state_from_a_file_is_read_at_the_time_of_the_error(traced: Traced, tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps({"version": 7, "token": "t-secret-value"}))
    text_file = tmp_path / "notes.txt"
    text_file.write_text("plain notes, Bearer abcdefghijklmnopqrstu")

    @spanwise.capture_errors(state=state_file)
    def with_json() -> None:
        state_file.write_text(json.dumps({"version": 8, "token": "t-secret-value"}))
        raise RuntimeError("after the write")

    @spanwise.capture_errors(state=str(text_file))
    def with_text() -> None:
        raise RuntimeError("text state")

    with pytest.raises(RuntimeError) as one:
        with_json()
    with pytest.raises(RuntimeError) as two:
        with_text()
    snap = one.value.__spanwise_report__["state_snapshot"]  # type: ignore[attr-defined]
    assert snap["source"] == "file" and snap["format"] == "json"
    assert snap["value"] == {"version": 8, "token": "[REDACTED]"}
    text = two.value.__spanwise_report__["state_snapshot"]  # type: ignore[attr-defined]
    assert text["format"] == "text" and text["value"] == "plain notes, [REDACTED]"

    @spanwise.capture_errors(state=tmp_path / "missing.json")
    def missing() -> None:
        raise RuntimeError("no state file")

    with pytest.raises(RuntimeError) as three:
        missing()
    gone = three.value.__spanwise_report__["state_snapshot"]  # type: ignore[attr-defined]
    assert gone["error"].startswith("cannot read")


def test_chained_causes_and_contexts_are_included(traced: Traced) -> None:
    def parse(raw: str) -> int:
        digits = raw.strip()
        return int(digits)

    @spanwise.capture_errors
    def load(raw: str) -> int:
        try:
            return parse(raw)
        except ValueError as exc:
            raise RuntimeError("bad config") from exc

    @spanwise.capture_errors
    def cleanup() -> None:
        try:
            {}["missing"]
        except KeyError:
            raise OSError("disk gone")  # noqa: B904 - an implicit context on purpose

    with pytest.raises(RuntimeError) as caused:
        load(" x1 ")
    chain = caused.value.__spanwise_report__["chain"]  # type: ignore[attr-defined]
    assert [(c["relation"], c["error_type"]) for c in chain] == [("cause", "ValueError")]
    assert chain[0]["frames"][-1]["function"].endswith("parse")
    assert chain[0]["frames"][-1]["locals"]["digits"] == "x1"

    with pytest.raises(OSError) as ctx:
        cleanup()
    chain = ctx.value.__spanwise_report__["chain"]  # type: ignore[attr-defined]
    assert [(c["relation"], c["error_type"]) for c in chain] == [("context", "KeyError")]


def test_async_functions_and_context_managers(traced: Traced) -> None:
    @spanwise.capture_errors(name="fetch-step")
    async def fetch(url: str) -> None:
        retries = 2
        await asyncio.sleep(0)
        raise ConnectionError(f"cannot reach {url} after {retries} tries")

    with pytest.raises(ConnectionError) as caught:
        asyncio.run(fetch("http://example.invalid"))
    report = caught.value.__spanwise_report__  # type: ignore[attr-defined]
    assert report["span_name"] == "fetch-step"
    assert report["frames"][-1]["locals"] == {"url": "http://example.invalid", "retries": 2}
    assert report["task"] is not None

    def helper(n: int) -> float:
        return 1 / n

    with pytest.raises(ZeroDivisionError) as div:
        with spanwise.capture_errors(state=lambda: {"n": 0}):
            helper(0)
    report = div.value.__spanwise_report__  # type: ignore[attr-defined]
    functions = [f["function"] for f in report["frames"]]
    assert functions[-1].endswith("helper") and "test_async_functions" in functions[0]
    assert report["frames"][-1]["locals"] == {"n": 0}
    assert report["state_snapshot"]["value"] == {"n": 0}

    async def guarded() -> None:
        async with spanwise.capture_errors():
            missing = None
            missing.attribute  # type: ignore[attr-defined]  # noqa: B018

    with pytest.raises(AttributeError) as attr:
        asyncio.run(guarded())
    assert attr.value.__spanwise_report__["frames"][-1]["locals"] == {  # type: ignore[attr-defined]
        "missing": None
    }


def test_hostile_locals_never_break_the_capture(traced: Traced) -> None:
    class BadRepr:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    class BadGetattr:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError("no attributes")

    @spanwise.capture_errors
    def hostile() -> None:
        bad = BadRepr()
        loop: list[Any] = []
        loop.append(loop)
        huge = "z" * 100_000_000
        ghost = BadGetattr()
        assert bad and loop and huge and ghost
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        hostile()
    traced.flush()
    [path] = _error_files(traced.home)
    assert path.stat().st_size < 100_000
    local = json.loads(path.read_text())["frames"][-1]["locals"]
    assert "repr raised RuntimeError" in local["bad"]
    assert local["loop"] == ["<cyclic reference>"]
    assert local["huge"].endswith("more chars]") and len(local["huge"]) < 1100
    assert local["ghost"]["__class__"].endswith("BadGetattr")


def test_deep_stacks_keep_the_innermost_frames(traced: Traced) -> None:
    @spanwise.capture_errors
    def recurse(n: int) -> None:
        if n == 0:
            raise LookupError("bottom")
        recurse.__wrapped__(n - 1)  # type: ignore[attr-defined]

    with pytest.raises(LookupError) as caught:
        recurse(150)
    report = caught.value.__spanwise_report__  # type: ignore[attr-defined]
    frames = report["frames"]
    assert report["frames_omitted"] == 151 - 100
    assert frames[10] == {"omitted_frames": 51}
    assert len(frames) == 101
    assert frames[-1]["locals"]["n"] == 0 and frames[-2]["locals"]["n"] == 1


def test_one_report_per_exception_and_per_file(traced: Traced) -> None:
    @spanwise.capture_errors
    def inner() -> None:
        raise ValueError("inner")

    @spanwise.capture_errors
    def outer() -> None:
        inner()

    with spanwise.span("run"):
        with pytest.raises(ValueError) as first:
            outer()
        with pytest.raises(ValueError) as second:
            outer()
    assert (
        first.value.__spanwise_report__["function"]
        == "test_one_report_per_exception_and_per_file.<locals>.inner"
    )  # type: ignore[attr-defined]
    traced.flush()
    rows = traced.rows("SELECT error_id, trace_id FROM errors ORDER BY time_ns")
    assert len(rows) == 2 and rows[0]["trace_id"] == rows[1]["trace_id"]
    names = [p.name for p in _error_files(traced.home)]
    trace = rows[0]["trace_id"]
    second_id = second.value.__spanwise_report__["error_id"]  # type: ignore[attr-defined]
    assert sorted(names) == sorted([f"{trace}_error.json", f"{trace}_error_{second_id}.json"])


def test_the_llm_calls_of_the_trace_are_linked(tmp_path: Path) -> None:
    spanwise.configure(
        "trace", home=os.environ["SPANWISE_HOME"], capture_content=True, session="agent-7"
    )

    @spanwise.capture_errors
    def plan() -> None:
        spanwise.record_llm_call(
            provider="openai",
            model="gpt-4o-mini",
            input_tokens=120,
            output_tokens=8,
            prompt="pick a task",
            response="task_42",
        )
        chosen = "task_42"
        {"task_1": 1}[chosen]

    with pytest.raises(KeyError):
        plan()
    spanwise.flush()
    home = Path(os.environ["SPANWISE_HOME"])
    [path] = _error_files(home, "agent-7")
    data = json.loads(path.read_text())
    [call] = data["llm_calls"]
    assert (call["model"], call["input_tokens"], call["response"]) == (
        "gpt-4o-mini",
        120,
        "task_42",
    )
    assert call["cost_usd"] is not None
    traced = Traced(home)
    [row] = traced.rows("SELECT llm_span_ids, session_id FROM errors")
    assert json.loads(row["llm_span_ids"]) == [call["span_id"]]
    assert row["session_id"] == "agent-7"


def test_generators_are_captured_too(traced: Traced) -> None:
    @spanwise.capture_errors
    def items(n: int) -> Any:
        for i in range(n):
            yield 10 // (2 - i)

    with pytest.raises(ZeroDivisionError) as caught:
        list(items(5))
    report = caught.value.__spanwise_report__  # type: ignore[attr-defined]
    assert report["frames"][-1]["locals"]["i"] == 2
    assert report["trace_id"]  # a span was made for it


def test_off_mode_is_a_plain_call(tmp_path: Path) -> None:
    @spanwise.capture_errors(state=lambda: {"x": 1})
    def fails() -> None:
        raise KeyError("nope")

    assert fails.__name__ == "fails"
    with pytest.raises(KeyError) as caught:
        fails()
    assert not hasattr(caught.value, "__spanwise_report__")
    assert not (Path(os.environ["SPANWISE_HOME"]) / "sessions").exists()


def test_bad_arguments_are_one_line_value_errors() -> None:
    with pytest.raises(ValueError, match="state must be a callable or a file path"):
        spanwise.capture_errors(state=42)
    with pytest.raises(ValueError, match="keyword arguments"):
        spanwise.capture_errors(123)

    async def agen() -> Any:
        yield 1

    with pytest.raises(ValueError, match="async generator"):
        spanwise.capture_errors(agen)
