"""``spanwise run --trace``: the workflow trace file and the same run in the store."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .conftest import (
    SPANWISE,
    run_cli,
    run_spanwise,
    trace_files,
    unprivileged,
    write_workflow,
)

FILE_NAME = re.compile(r"^workflow-trace-(?P<name>[A-Za-z0-9-]+)-\d{8}-\d{6}-[0-9a-f]{6}\.json$")


def load(path: Path) -> dict[str, Any]:
    from spanwise.workflow._trace_file import resolve_strings

    doc = json.loads(path.read_text(encoding="utf-8"))
    return resolve_strings(doc, doc["strings"])  # type: ignore[no-any-return]


def node(doc: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(n for n in doc["nodes"] if n["id"] == node_id)


STORE_TOOLS = """
def rename_topic(store, suffix):
    store["inputs"]["topic"] += suffix
    del store["inputs"]["scratch"]
    store["notes"] = {"written_by": "python"}
    return len(store["inputs"]["topic"])
"""


def test_trace_writes_one_file_with_every_node(tmp_path: Path, home: Path) -> None:
    (tmp_path / "store_tools.py").write_text(STORE_TOOLS, encoding="utf-8")
    flow = write_workflow(
        tmp_path,
        {
            "name": "Daily report!",
            "inputs": {"topic": {"default": "owls"}, "scratch": {"default": "tmp"}},
            "nodes": [
                {"id": "facts", "type": "shell", "params": {"command": "printf '%s' 'owls hoot'"}},
                {
                    "id": "ask",
                    "type": "llm",
                    "params": {
                        "model": "echo",
                        "prompt": "Tell me about ${inputs.topic}: ${facts.stdout}",
                    },
                },
                {
                    "id": "count",
                    "type": "python",
                    "params": {
                        "callable": "textwrap:shorten",
                        "args": {"text": "${ask.text}", "width": "${size.result}"},
                    },
                },
                {
                    "id": "size",
                    "type": "python",
                    "params": {
                        "callable": "store_tools:rename_topic",
                        "store": True,
                        "args": {"suffix": "!"},
                    },
                },
            ],
            "edges": [{"from": "facts", "to": "ask"}],
        },
    )
    result = run_spanwise("run", str(flow), "--trace", cwd=tmp_path)
    assert result.code == 0, result.stderr
    files = trace_files(home)
    assert len(files) == 1
    match = FILE_NAME.match(files[0].name)
    assert match is not None, files[0].name
    assert match["name"] == "Daily-report"
    doc = load(files[0])
    assert uuid.UUID(doc["execution_id"]).version == 4
    assert doc["status"] == "success"
    assert doc["workflow_name"] == "Daily report!"
    assert [n["id"] for n in doc["nodes"]] == ["facts", "ask", "size", "count"]
    for entry in doc["nodes"]:
        assert entry["status"] == "success"
        assert entry["duration_ms"] > 0
        assert entry["error"] is None
    # Local times with milliseconds, in the run's span, in execution order.
    stamp = re.compile(r".+T\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d")
    assert all(stamp.fullmatch(entry["start_time"]) for entry in doc["nodes"])
    starts = [datetime.fromisoformat(entry["start_time"]) for entry in doc["nodes"]]
    run_start, run_end = (datetime.fromisoformat(doc[k]) for k in ("start_time", "end_time"))
    slack = timedelta(milliseconds=2)  # each stamp is cut to the millisecond
    assert run_start - slack <= starts[0] <= run_start + timedelta(seconds=1)
    assert starts == sorted(starts)
    assert starts[-1] <= run_end + slack
    # Template resolutions: where each template sat and what it became (types kept).
    ask = node(doc, "ask")
    assert ask["templates"] == [
        {"param": "prompt", "template": "${inputs.topic}", "value": "owls"},
        {"param": "prompt", "template": "${facts.stdout}", "value": "owls hoot"},
    ]
    assert ask["params"]["prompt"] == "Tell me about owls: owls hoot"
    count = node(doc, "count")
    assert {"param": "args.width", "template": "${size.result}", "value": 5} in count["templates"]
    assert count["params"]["args"]["width"] == 5
    # The store before/after each node: keys added, removed, changed.
    assert node(doc, "facts")["store"] == {
        "added": ["facts.exit_code", "facts.stderr", "facts.stdout"],
        "removed": [],
        "changed": [],
    }
    assert node(doc, "size")["store"] == {
        "added": ["notes.written_by", "size.result"],
        "removed": ["inputs.scratch"],
        "changed": ["inputs.topic"],
    }
    assert node(doc, "size")["outputs"] == {"result": 5}
    # The LLM call of the llm node, with its tokens (no content: capture is off).
    calls = ask["llm_calls"]
    assert len(calls) == 1
    assert calls[0]["model"] == "echo"
    assert calls[0]["input_tokens"] == 6  # words of the prompt, as echo counts them
    assert calls[0]["cost_usd"] is None
    assert "prompt" not in calls[0]
    assert doc["content_captured"] is False


def test_the_traced_run_is_in_the_store(tmp_path: Path) -> None:
    flow = write_workflow(
        tmp_path,
        {
            "name": "stored",
            "nodes": [{"id": "ask", "type": "llm", "params": {"model": "echo", "prompt": "hi"}}],
        },
    )
    result = run_spanwise("run", str(flow), "--trace", cwd=tmp_path)
    assert result.code == 0, result.stderr
    match = re.search(
        r"spanwise: trace ([0-9a-f]{32}) \(spanwise trace ([0-9a-f]{12})\)", result.stderr
    )
    assert match is not None, result.stderr
    shown = run_spanwise("trace", match[2], "--json")
    assert shown.code == 0, shown.stderr
    data = shown.json()
    assert data["trace"]["trace_id"] == match[1]
    kinds = {(s["name"], s["kind"]) for s in data["spans"]}
    assert {("workflow stored", "workflow"), ("ask", "node"), ("chat echo", "llm")} <= kinds
    tree = run_spanwise("trace", match[2])
    assert "workflow stored" in tree.stdout
    assert "chat echo" in tree.stdout
    doc = load(trace_files(Path(os.environ["SPANWISE_HOME"]))[0])
    assert doc["trace_id"] == match[1]


def test_content_capture_puts_prompt_and_response_in_the_trace(tmp_path: Path, home: Path) -> None:
    prompt = "x " * 700  # over 1 KiB: stored once in the string table
    flow = write_workflow(
        tmp_path,
        {
            "name": "capture",
            "nodes": [
                {"id": "a", "type": "llm", "params": {"model": "echo", "prompt": prompt}},
                {"id": "b", "type": "llm", "params": {"model": "echo", "prompt": prompt}},
            ],
        },
    )
    result = run_spanwise("run", str(flow), "--trace", "--capture-content", cwd=tmp_path)
    assert result.code == 0, result.stderr
    raw = json.loads(trace_files(home)[0].read_text())
    assert raw["content_captured"] is True
    assert list(raw["strings"].values()).count(prompt) == 1
    assert raw["nodes"][0]["params"]["prompt"] == raw["nodes"][1]["llm_calls"][0]["prompt"]
    doc = load(trace_files(home)[0])
    call = doc["nodes"][0]["llm_calls"][0]
    assert call["prompt"] == prompt
    assert json.loads(call["response"])["prompt"] == prompt


def test_a_failing_node_leaves_its_error_and_every_earlier_node(tmp_path: Path, home: Path) -> None:
    flow = write_workflow(
        tmp_path,
        {
            "name": "breaks",
            "nodes": [
                {"id": "one", "type": "shell", "params": {"command": "echo 1"}},
                {"id": "two", "type": "read-file", "params": {"path": "missing.txt"}},
                {"id": "three", "type": "shell", "params": {"command": "echo 3"}},
            ],
            "edges": [{"from": "one", "to": "two"}, {"from": "two", "to": "three"}],
        },
    )
    result = run_spanwise("run", str(flow), "--trace", cwd=tmp_path)
    assert result.code == 1
    doc = load(trace_files(home)[0])
    assert doc["status"] == "failed"
    assert doc["error"] == "node 'two' (read-file) failed: no such file: missing.txt"
    assert [n["id"] for n in doc["nodes"]] == ["one", "two"]
    assert node(doc, "one")["status"] == "success"
    failed = node(doc, "two")
    assert failed["status"] == "failed"
    assert failed["error"] == {"type": "NodeError", "message": "no such file: missing.txt"}
    assert failed["duration_ms"] > 0
    assert failed["outputs"] is None
    assert doc["nodes_failed"] == 1


def test_ctrl_c_still_leaves_a_valid_trace_file(tmp_path: Path, home: Path) -> None:
    marker = tmp_path / "started"
    flow = write_workflow(
        tmp_path,
        {
            "name": "interrupted",
            "nodes": [
                {
                    "id": "mark",
                    "type": "write-file",
                    "params": {"path": str(marker), "content": "x"},
                },
                {"id": "wait", "type": "shell", "params": {"command": "sleep 30"}},
            ],
            "edges": [{"from": "mark", "to": "wait"}],
        },
    )
    proc = subprocess.Popen(
        [SPANWISE, "run", str(flow), "--trace"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # inside "wait" now
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode != 0
    doc = load(trace_files(home)[0])
    assert doc["status"] == "interrupted"
    assert [n["id"] for n in doc["nodes"]] == ["mark", "wait"]
    assert node(doc, "wait")["status"] == "interrupted"
    assert node(doc, "wait")["error"]["type"] == "KeyboardInterrupt"


def test_an_unwritable_debug_folder_is_one_warning_and_the_normal_result(
    tmp_path: Path, home: Path
) -> None:
    (home / "debug").mkdir(parents=True)
    (home / "debug").chmod(0o555)
    flow = write_workflow(
        tmp_path,
        {
            "name": "ro",
            "nodes": [{"id": "a", "type": "shell", "params": {"command": "echo fine"}}],
            "outputs": {"said": "${a.stdout}"},
        },
    )
    result = run_spanwise("run", str(flow), "--trace", cwd=tmp_path, prefix=unprivileged())
    (home / "debug").chmod(0o755)
    assert result.code == 0
    assert result.stdout == "fine\n"
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1, result.stderr
    assert warnings[0].startswith("spanwise: warning: could not write the workflow trace file ")
    assert warnings[0].endswith(": Permission denied")
    assert "Traceback" not in result.stderr
    assert trace_files(home) == []


def test_file_names_follow_the_pattern() -> None:
    from datetime import datetime

    from spanwise.workflow._trace_file import safe_name, trace_path

    moment = datetime(2026, 1, 2, 3, 4, 5)
    path = trace_path(
        Path("/h"),
        f"workflow-trace-{safe_name('a  b/c--d!')}",
        moment,
        "0123abcd-0000-4000-8000-000000000000",
    )
    assert str(path) == "/h/debug/workflow-trace-a-b-c-d-20260102-030405-0123ab.json"
    assert safe_name("") == "workflow"
    assert safe_name("x" * 50) == "x" * 30
    assert safe_name("--Ünïcode  名前 v2!--") == "n-code-v2"
    assert safe_name("a" * 29 + "--b") == "a" * 29  # cut at 30, no dash left at the end
    planner = trace_path(Path("/h"), "planner-trace", moment, "ffeedd00-0000")
    assert planner.name == "planner-trace-20260102-030405-ffeedd.json"


def test_the_file_text_is_the_same_without_json_c_accelerator(monkeypatch: Any) -> None:
    """Every line is written in C (``_tracejson``, else one reused json C encoder); without
    either, json's own encoder gives the same text."""
    from spanwise.workflow import _trace_file

    doc = {
        "format": "x",
        "nodes": [{"id": "a", "ms": 1.5, "params": {"p": 'é\n"q"', "n": None, "ok": True}}],
        "inputs": {"obj": {"nested": [1, 2.25]}},
        "strings": {"abc": "long text"},
    }
    fast = _trace_file.layout(doc).decode("utf-8")
    monkeypatch.setattr(_trace_file, "_TRACEJSON", None)
    assert _trace_file.layout(doc).decode("utf-8") == fast
    monkeypatch.setattr(_trace_file, "c_encoder", lambda *args, **kwargs: None)
    assert _trace_file.layout(doc).decode("utf-8") == fast
    assert json.loads(fast) == doc
    node_line = '{"id": "a", "ms": 1.5, "params": {"p": "é\\n\\"q\\"", "n": null, "ok": true}}'
    assert fast.splitlines()[3] == node_line


def test_trace_and_metrics_together(tmp_path: Path, home: Path) -> None:
    flow = write_workflow(
        tmp_path,
        {
            "name": "both",
            "nodes": [{"id": "a", "type": "shell", "params": {"command": "echo x"}}],
        },
    )
    result = run_cli("run", str(flow), "--trace", "--output-format", "json")
    assert result.code == 0
    assert result.json()["metrics"]["workflow"]["nodes_executed"] == 1
    assert len(trace_files(home)) == 1
    assert "workflow trace file: " in result.stderr


ODD_VALUES = """
import enum

class Opaque:
    def __repr__(self):
        raise RuntimeError("no repr for you")

class Level(enum.IntEnum):
    HIGH = 3

class Tag(str):
    def __str__(self):
        return "not the text"

def odd():
    deep = "bottom"
    for _ in range(40):
        deep = {"down": deep}
    return {
        "opaque": Opaque(),
        "nan": float("nan"),
        "raw": b"\\x00\\x01",
        "big": "z" * 1500,
        "level": Level.HIGH,
        "tag": Tag("blue"),
        "pair": (1, "two"),
        "by_number": {1: "one", 2: {"password": "hunter2", "empty_token": ""}},
        "deep": deep,
    }
"""


def test_values_json_cannot_hold_do_not_break_the_run_or_the_file(
    tmp_path: Path, home: Path, monkeypatch: Any
) -> None:
    (tmp_path / "odd_values.py").write_text(ODD_VALUES, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    flow = write_workflow(
        tmp_path,
        {
            "name": "odd",
            "nodes": [{"id": "o", "type": "python", "params": {"callable": "odd_values:odd"}}],
            "outputs": {"size": "${o.result.big}"},
        },
    )
    result = run_cli("run", str(flow), "--trace")
    assert result.code == 0, result.stderr
    assert result.stdout == "z" * 1500 + "\n"
    doc = load(trace_files(home)[0])
    outputs = node(doc, "o")["outputs"]["result"]
    assert outputs["opaque"] == "<unrepresentable Opaque>"
    assert outputs["nan"] == "nan"
    assert outputs["raw"] == "<binary data: 2 bytes>"
    assert outputs["big"] == "z" * 1500
    assert outputs["level"] == 3
    assert outputs["tag"] == "blue"
    assert outputs["pair"] == [1, "two"]
    assert outputs["by_number"] == {"1": "one", "2": {"password": "[REDACTED]", "empty_token": ""}}
    deep = outputs["deep"]
    levels = 0
    while isinstance(deep, dict):
        deep, levels = deep["down"], levels + 1
    assert deep == "<nested deeper than 32 levels>"
    assert 25 < levels < 40
    assert node(doc, "o")["store"]["added"] == ["o.result"]


def test_secrets_are_redacted_in_the_trace_file(tmp_path: Path, home: Path) -> None:
    key = "sk-proj-" + "a1b2c3d4" * 4
    flow = write_workflow(
        tmp_path,
        {
            "name": "secrets",
            "inputs": {"api_key": {"default": key}},
            "nodes": [
                {
                    "id": "call",
                    "type": "shell",
                    "params": {
                        "command": "echo using ${inputs.api_key}",
                        "env": {"API_TOKEN": key},
                    },
                },
            ],
            "outputs": {"said": "${call.stdout}"},
        },
    )
    result = run_cli("run", str(flow), "--trace")
    assert result.code == 0, result.stderr
    assert result.stdout == f"using {key}\n"  # the run itself is untouched
    text = trace_files(home)[0].read_text()
    assert key not in text
    doc = load(trace_files(home)[0])
    call = node(doc, "call")
    assert call["params"]["env"] == {"API_TOKEN": "[REDACTED]"}
    assert call["params"]["command"] == "echo using [REDACTED]"
    assert call["templates"][0]["value"] == "[REDACTED]"
    assert doc["inputs"] == {"api_key": "[REDACTED]"}
