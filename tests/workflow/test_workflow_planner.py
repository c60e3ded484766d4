"""``spanwise plan``: a deterministic model (registered as an llm plugin) plays the planner."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .conftest import ScriptedModel, run_cli, trace_files

GOOD = {
    "name": "shout",
    "inputs": {"word": {"default": "hello"}},
    "nodes": [
        {"id": "upper", "type": "shell", "params": {"command": "echo ${inputs.word} | tr a-z A-Z"}},
        {"id": "ask", "type": "llm", "params": {"model": "echo", "prompt": "${upper.stdout}"}},
    ],
    "outputs": {"loud": "${upper.stdout}"},
}
BAD = {"name": "bad", "nodes": [{"id": "x", "type": "teleport", "params": {}}]}


def fenced(data: object) -> str:
    return f"Here is the workflow:\n```json\n{json.dumps(data)}\n```"


def test_plan_prints_a_valid_workflow_from_the_catalog(test_models: type[ScriptedModel]) -> None:
    test_models.replies[:] = [fenced(GOOD)]
    result = run_cli("plan", "shout a word", "--model", "scripted")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["nodes"][0]["id"] == "upper"
    prompt = test_models.prompts[0]
    assert "Request: shout a word" in prompt
    for node_type in ("llm", "shell", "read-file", "write-file", "http", "python"):
        assert f'"type":"{node_type}"' in prompt


def test_plan_retries_once_with_the_validation_error(
    tmp_path: Path, home: Path, test_models: type[ScriptedModel]
) -> None:
    test_models.replies[:] = [json.dumps(BAD), json.dumps(GOOD)]
    result = run_cli(
        "plan",
        "shout it",
        "--model",
        "scripted",
        "--run",
        "--output-format",
        "json",
        "--trace-planner",
        "-p",
        "word=quiet",
    )
    assert result.code == 0, result.stderr
    assert "unknown node type 'teleport'" in test_models.prompts[1]
    doc = result.json()
    assert doc["result"] == {"loud": "QUIET\n"}
    planner, workflow = doc["metrics"]["planner"], doc["metrics"]["workflow"]
    assert list(planner["node_timings"]) == ["generate", "validate", "repair", "validate-repair"]
    assert planner["models_used"] == ["scripted"]
    assert planner["llm_calls"] == 2
    assert workflow["models_used"] == ["echo"]
    assert set(workflow["node_timings"]) == {"upper", "ask"}
    assert doc["duration_planner_ms"] == planner["duration_ms"] > 0
    assert doc["num_nodes"] == 6
    total = doc["metrics"]["total"]
    assert total["tokens_input"] == planner["tokens_input"] + workflow["tokens_input"]
    assert doc["total_cost_usd"] is None  # scripted and echo have no price
    assert doc["unavailable_models"] == ["echo", "scripted"]
    # The planner trace: both calls with prompt, response, tokens, cost and duration.
    files = trace_files(home, "planner-trace-")
    assert len(files) == 1
    assert re.fullmatch(r"planner-trace-\d{8}-\d{6}-[0-9a-f]{6}\.json", files[0].name)
    from spanwise.workflow._trace_file import resolve_strings

    raw = json.loads(files[0].read_text())
    trace = resolve_strings(raw, raw["strings"])
    assert trace["user_input"] == "shout it"
    assert trace["status"] == "success"
    calls = trace["llm_calls"]
    assert [c["step"] for c in calls] == ["generate", "repair"]
    assert calls[0]["prompt"] == test_models.prompts[0]
    assert calls[0]["response"] == json.dumps(BAD)
    assert "teleport" in calls[0]["error"]
    assert calls[1]["tokens"] == {
        "input": len(test_models.prompts[1].split()),
        "output": len(json.dumps(GOOD).split()),
    }
    assert calls[1]["cost"]["total_cost_usd"] is None
    assert calls[1]["duration_ms"] > 0
    assert trace["workflow"]["name"] == "shout"
    # The catalog prompt is repeated inside the retry prompt: stored once.
    assert len(raw["strings"]) >= 1
    assert trace_files(home) == []  # no --trace: no workflow trace


def test_both_trace_flags_give_two_files(home: Path, test_models: type[ScriptedModel]) -> None:
    test_models.replies[:] = [json.dumps(GOOD)]
    result = run_cli("plan", "shout", "-m", "scripted", "--run", "--trace", "--trace-planner")
    assert result.code == 0, result.stderr
    assert result.stdout == "HELLO\n"
    workflow_files = trace_files(home)
    planner_files = trace_files(home, "planner-trace-")
    assert len(workflow_files) == 1 and len(planner_files) == 1
    a = json.loads(workflow_files[0].read_text())
    b = json.loads(planner_files[0].read_text())
    assert a["execution_id"] == b["execution_id"]
    assert a["trace_id"] == b["trace_id"] is not None


def test_run_with_a_request_plans_first(home: Path, test_models: type[ScriptedModel]) -> None:
    test_models.replies[:] = [json.dumps(GOOD)]
    result = run_cli("run", "make a word loud", "--model", "scripted", "--trace-planner")
    assert result.code == 0, result.stderr
    assert result.stdout == "HELLO\n"
    assert len(trace_files(home, "planner-trace-")) == 1


def test_an_invalid_answer_after_the_retry_is_an_error(
    home: Path, test_models: type[ScriptedModel]
) -> None:
    test_models.replies[:] = ["I cannot do that", json.dumps(BAD)]
    result = run_cli("plan", "impossible", "-m", "scripted", "--trace-planner")
    assert result.code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: planner: the model's workflow is still invalid after one retry: node 'x': "
        "unknown node type 'teleport' (known: llm, shell, read-file, write-file, http, python)"
    )
    trace = json.loads(trace_files(home, "planner-trace-")[0].read_text())
    assert trace["status"] == "failed"
    assert trace["llm_calls"][0]["error"].startswith("the answer holds no JSON object")
    assert trace["workflow"] is None


def test_planner_failure_in_json_mode_is_an_envelope(test_models: type[ScriptedModel]) -> None:
    result = run_cli("plan", "anything", "-m", "broken", "--output-format", "json")
    assert result.code == 1
    doc = result.json()
    assert doc["is_error"] is True
    assert doc["error"] == "planner: the model failed: RuntimeError: the model service is down"
    assert doc["metrics"]["planner"]["node_timings"]["generate"] > 0
    assert "workflow" not in doc["metrics"]


def test_plan_save_writes_the_workflow(tmp_path: Path, test_models: type[ScriptedModel]) -> None:
    test_models.replies[:] = [json.dumps(GOOD)]
    target = tmp_path / "plans" / "shout.json"
    result = run_cli("plan", "shout", "-m", "scripted", "--save", str(target))
    assert result.code == 0, result.stderr
    assert result.stderr == f"spanwise: workflow saved to {target}\n"
    from spanwise.workflow import load_workflow

    assert load_workflow(target).name == "shout"
    rerun = run_cli("run", str(target))
    assert rerun.stdout == "HELLO\n"


def test_unknown_planner_model_is_one_line(test_models: type[ScriptedModel]) -> None:
    result = run_cli("plan", "anything", "--model", "no-such-model")
    assert result.code == 1
    assert result.stderr == "Error: planner: unknown model 'no-such-model' (see: llm models)\n"
