"""``spanwise run`` as a user runs it: default text output, the JSON envelope, failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    PRICED_CALL_COST,
    PRICED_USAGE,
    run_cli,
    run_spanwise,
    write_workflow,
)


def shell(node_id: str, command: str) -> dict[str, object]:
    return {"id": node_id, "type": "shell", "params": {"command": command}}


def echo_llm(node_id: str, prompt: str, model: str = "echo") -> dict[str, object]:
    return {"id": node_id, "type": "llm", "params": {"model": model, "prompt": prompt}}


def echo_usage(prompt: str) -> tuple[int, int]:
    """What llm-echo reports: words of the prompt in, words of its JSON answer out."""
    answer = json.dumps(
        {"prompt": prompt, "system": "", "attachments": [], "stream": True, "previous": []},
        indent=2,
    )
    return len(prompt.split()), len(answer.split())


def test_text_output_prints_the_result_and_collects_nothing(tmp_path: Path, home: Path) -> None:
    flow = write_workflow(
        tmp_path,
        {
            "name": "greet",
            "inputs": {"who": {"default": "world"}},
            "nodes": [
                shell("hello", "printf 'hello %s' '${inputs.who}'"),
                echo_llm("ask", "Say ${hello.stdout}"),
            ],
            "outputs": {"greeting": "${hello.stdout}"},
        },
    )
    result = run_spanwise("run", str(flow), "--param", "who=spanwise", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert result.stdout == "hello spanwise\n"
    assert result.stderr == ""
    # Nothing was written anywhere: no store, no debug folder, not even SPANWISE_HOME.
    assert not home.exists()


def test_no_flags_compiles_bare_nodes_and_flags_compile_the_wrapper_chain(tmp_path: Path) -> None:
    from spanwise.workflow import RunCollector, parse_workflow, validate
    from spanwise.workflow._runner import compile_workflow
    from spanwise.workflow._wrappers import InstrumentedNode, NamespacedNode, TemplateAwareNode

    flow = parse_workflow({"name": "w", "nodes": [shell("a", "true")]})
    order = validate(flow)
    bare = compile_workflow(flow, order, {})
    assert bare[0].wrapped is None
    wrapped = compile_workflow(flow, order, {}, RunCollector())[0].wrapped
    assert isinstance(wrapped, InstrumentedNode)
    assert isinstance(wrapped.inner, NamespacedNode)
    assert isinstance(wrapped.inner.inner, TemplateAwareNode)


def test_json_output_is_the_envelope(tmp_path: Path, home: Path) -> None:
    prompt = "summarize these words"
    flow = write_workflow(
        tmp_path,
        {
            "name": "one-llm",
            "nodes": [shell("prep", "echo ready"), echo_llm("ask", prompt)],
            "edges": [{"from": "prep", "to": "ask"}],
            "outputs": {"answer": "${ask.model}"},
        },
    )
    result = run_spanwise("run", str(flow), "--output-format", "json", cwd=tmp_path)
    assert result.code == 0, result.stderr
    doc = result.json()
    assert list(doc)[:7] == [
        "result",
        "is_error",
        "duration_ms",
        "duration_planner_ms",
        "total_cost_usd",
        "num_nodes",
        "metrics",
    ]
    assert doc["result"] == {"answer": "echo"}
    assert doc["is_error"] is False
    assert doc["duration_planner_ms"] is None
    assert doc["num_nodes"] == 2
    assert doc["duration_ms"] >= doc["metrics"]["workflow"]["duration_ms"] > 0
    workflow = doc["metrics"]["workflow"]
    tokens_in, tokens_out = echo_usage(prompt)
    assert workflow["nodes_executed"] == 2
    assert workflow["tokens_input"] == tokens_in
    assert workflow["tokens_output"] == tokens_out
    assert workflow["tokens_total"] == tokens_in + tokens_out
    assert workflow["models_used"] == ["echo"]
    assert set(workflow["node_timings"]) == {"prep", "ask"}
    assert "planner" not in doc["metrics"]
    assert doc["metrics"]["total"]["tokens_total"] == tokens_in + tokens_out
    # echo has no price: the cost is unknown, never $0.
    assert doc["total_cost_usd"] is None
    assert doc["pricing_available"] is False
    assert doc["unavailable_models"] == ["echo"]
    assert doc["partial_cost_usd"] == 0
    assert workflow["cost_usd"] is None
    # Metrics alone keep everything in memory.
    assert not (home / "spanwise.db").exists()
    assert not (home / "debug").exists()


def test_node_timings_cover_every_node_including_the_failing_one(tmp_path: Path) -> None:
    flow = write_workflow(
        tmp_path,
        {
            "name": "fails",
            "nodes": [
                shell("first", "echo one"),
                shell("slow", "sleep 0.05"),
                shell("broken", "echo 'disk full' >&2; exit 3"),
                shell("never", "echo unreachable"),
            ],
            "edges": [
                {"from": "first", "to": "slow"},
                {"from": "slow", "to": "broken"},
                {"from": "broken", "to": "never"},
            ],
        },
    )
    result = run_spanwise("run", str(flow), "--output-format", "json", cwd=tmp_path)
    assert result.code == 1
    doc = result.json()
    timings = doc["metrics"]["workflow"]["node_timings"]
    assert list(timings) == ["first", "slow", "broken"]
    assert timings["slow"] >= 50
    assert timings["broken"] > 0
    assert doc["is_error"] is True
    assert doc["error"] == "node 'broken' (shell) failed: command exited with code 3: disk full"
    assert doc["result"] is None
    assert doc["num_nodes"] == 3
    assert doc["total_cost_usd"] == 0.0


def test_failed_run_in_text_mode_is_one_line_and_exit_1(tmp_path: Path) -> None:
    flow = write_workflow(tmp_path, {"name": "f", "nodes": [shell("boom", "exit 7")]})
    result = run_spanwise("run", str(flow), cwd=tmp_path)
    assert result.code == 1
    assert result.stdout == ""
    assert result.stderr == "Error: node 'boom' (shell) failed: command exited with code 7\n"


def test_two_llm_nodes_are_both_counted(tmp_path: Path) -> None:
    prompts = ["first question here", "second, longer question is here"]
    flow = write_workflow(
        tmp_path,
        {
            "name": "two",
            "nodes": [echo_llm("one", prompts[0]), echo_llm("two", prompts[1])],
        },
    )
    doc = run_spanwise("run", str(flow), "--output-format", "json", cwd=tmp_path).json()
    workflow = doc["metrics"]["workflow"]
    expected = [echo_usage(p) for p in prompts]
    assert workflow["llm_calls"] == 2
    assert workflow["tokens_input"] == sum(e[0] for e in expected)
    assert workflow["tokens_output"] == sum(e[1] for e in expected)
    assert workflow["models_used"] == ["echo"]


def test_priced_model_has_a_cost(tmp_path: Path, test_models: object) -> None:
    flow = write_workflow(
        tmp_path,
        {
            "name": "priced",
            "nodes": [echo_llm("a", "one", "gpt-4o-mini"), echo_llm("b", "two", "gpt-4o-mini")],
            "outputs": {"a": "${a.text}", "b": "${b.text}"},
        },
    )
    result = run_cli("run", str(flow), "--output-format", "json")
    assert result.code == 0, result.stderr
    doc = result.json()
    assert doc["result"] == {"a": "priced: one", "b": "priced: two"}
    assert doc["total_cost_usd"] == pytest.approx(2 * PRICED_CALL_COST)
    assert doc["metrics"]["workflow"]["cost_usd"] == pytest.approx(2 * PRICED_CALL_COST)
    assert doc["metrics"]["total"]["cost_usd"] == pytest.approx(2 * PRICED_CALL_COST)
    assert doc["metrics"]["workflow"]["tokens_input"] == 2 * PRICED_USAGE[0]
    assert "pricing_available" not in doc
    assert "unavailable_models" not in doc["metrics"]["total"]


def test_cache_and_reasoning_tokens_appear_when_present(
    tmp_path: Path, test_models: object
) -> None:
    flow = write_workflow(tmp_path, {"name": "d", "nodes": [echo_llm("a", "x", "gpt-4o")]})
    doc = run_cli("run", str(flow), "--output-format", "json").json()
    for section in (doc["metrics"]["workflow"], doc["metrics"]["total"]):
        assert section["cache_read_tokens"] == 1500
        assert section["reasoning_tokens"] == 100
        assert "cache_write_tokens" not in section
    assert doc["total_cost_usd"] > 0
    plain = write_workflow(tmp_path, {"name": "p", "nodes": [echo_llm("a", "x", "gpt-4o-mini")]})
    assert (
        "cache_read_tokens"
        not in run_cli("run", str(plain), "--output-format", "json").json()["metrics"]["total"]
    )


def test_an_unpriced_model_makes_the_total_null_with_a_partial_cost(
    tmp_path: Path, test_models: object
) -> None:
    flow = write_workflow(
        tmp_path,
        {
            "name": "mixed",
            "nodes": [echo_llm("priced", "one", "gpt-4o-mini"), echo_llm("local", "two words")],
        },
    )
    doc = run_cli("run", str(flow), "--output-format", "json").json()
    assert doc["total_cost_usd"] is None
    assert doc["pricing_available"] is False
    assert doc["unavailable_models"] == ["echo"]
    assert doc["partial_cost_usd"] == pytest.approx(PRICED_CALL_COST)
    total = doc["metrics"]["total"]
    assert total["cost_usd"] is None
    assert total["pricing_available"] is False
    assert total["partial_cost_usd"] == pytest.approx(PRICED_CALL_COST)
    assert doc["metrics"]["workflow"]["models_used"] == ["gpt-4o-mini", "echo"]


def test_no_llm_nodes_cost_zero(tmp_path: Path) -> None:
    flow = write_workflow(tmp_path, {"name": "plain", "nodes": [shell("a", "echo hi")]})
    doc = run_spanwise("run", str(flow), "--output-format", "json", cwd=tmp_path).json()
    assert doc["total_cost_usd"] == 0.0
    assert doc["metrics"]["workflow"]["cost_usd"] == 0.0
    assert doc["metrics"]["workflow"]["tokens_total"] == 0
    assert doc["metrics"]["workflow"]["models_used"] == []
    assert "pricing_available" not in doc


def test_a_call_without_usage_is_skipped_in_aggregation(
    tmp_path: Path, test_models: object
) -> None:
    flow = write_workflow(
        tmp_path,
        {
            "name": "no-usage",
            "nodes": [
                echo_llm("silent", "hello", "no-usage"),
                echo_llm("priced", "hi", "gpt-4o-mini"),
            ],
        },
    )
    doc = run_cli("run", str(flow), "--output-format", "json").json()
    workflow = doc["metrics"]["workflow"]
    assert workflow["llm_calls"] == 2
    assert workflow["llm_calls_without_usage"] == 1
    assert workflow["tokens_input"] == PRICED_USAGE[0]
    assert workflow["tokens_output"] == PRICED_USAGE[1]
    # The call without usage neither zeroes nor nulls the cost.
    assert doc["total_cost_usd"] == pytest.approx(PRICED_CALL_COST)
    assert "pricing_available" not in doc


def test_json_output_of_a_failed_run_still_carries_metrics(tmp_path: Path) -> None:
    flow = write_workflow(
        tmp_path,
        {
            "name": "half",
            "nodes": [echo_llm("ask", "what went wrong"), shell("fail", "exit 2")],
            "edges": [{"from": "ask", "to": "fail"}],
        },
    )
    result = run_spanwise("run", str(flow), "--output-format", "json", cwd=tmp_path)
    assert result.code == 1
    doc = result.json()
    assert doc["is_error"] is True
    assert doc["error"].startswith("node 'fail' (shell) failed")
    workflow = doc["metrics"]["workflow"]
    assert workflow["nodes_executed"] == 2
    assert workflow["llm_calls"] == 1
    assert workflow["tokens_input"] == echo_usage("what went wrong")[0]
    assert set(workflow["node_timings"]) == {"ask", "fail"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            "{ not json",
            "flow.json: not valid JSON (Expecting property name enclosed in double "
            "quotes at line 1 column 3)",
        ),
        (
            {"name": "x", "nodes": [{"id": "a", "type": "shel", "params": {"command": "ls"}}]},
            "node 'a': unknown node type 'shel' (did you mean 'shell'?)",
        ),
        (
            {"name": "x", "nodes": [{"id": "a", "type": "shell", "params": {}}]},
            "node 'a' (shell): missing parameter 'command'",
        ),
        (
            {
                "name": "x",
                "nodes": [shell("a", "ls"), shell("b", "ls"), shell("c", "ls")],
                "edges": [
                    {"from": "a", "to": "b"},
                    {"from": "b", "to": "c"},
                    {"from": "c", "to": "b"},
                ],
            },
            "node 'b': cycle b → c → b",
        ),
        (
            {"name": "x", "nodes": [shell("a", "ls")], "edges": [{"from": "a", "to": "ghost"}]},
            "edge a → ghost: node 'ghost' does not exist",
        ),
        (
            {"name": "x", "nodes": [shell("a", "cat ${missing.stdout}")]},
            "node 'a': template ${missing.stdout} in 'command' refers to unknown node 'missing'",
        ),
    ],
    ids=["malformed-json", "unknown-type", "missing-param", "cycle", "edge-to-missing", "template"],
)
def test_an_invalid_workflow_is_one_line_and_a_non_zero_exit(
    tmp_path: Path, data: object, message: str
) -> None:
    path = tmp_path / "flow.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    result = run_spanwise("run", "flow.json", cwd=tmp_path)
    assert result.code != 0
    assert result.stdout == ""
    assert result.stderr == f"Error: {message}\n"


def test_unknown_param_and_missing_file_are_one_line(tmp_path: Path) -> None:
    flow = write_workflow(
        tmp_path,
        {
            "name": "x",
            "inputs": {"a": {"required": True}},
            "nodes": [shell("n", "echo ${inputs.a}")],
        },
    )
    missing = run_cli("run", str(flow))
    assert missing.code == 1
    assert missing.stderr == "Error: missing input 'a': pass --param a=VALUE\n"
    unknown = run_cli("run", str(flow), "-p", "a=1", "-p", "b=2")
    assert unknown.stderr == "Error: unknown input 'b' (this workflow's inputs: a)\n"
    nofile = run_cli("run", str(tmp_path / "nope.json"))
    assert nofile.code == 1
    assert nofile.stderr == f"Error: {tmp_path / 'nope.json'}: no such workflow file\n"


def test_the_bundled_example_runs_offline(tmp_path: Path) -> None:
    out = tmp_path / "note.md"
    result = run_spanwise("run", "example:echo-summary", "-p", f"output={out}", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert result.stdout.startswith(f"saved: {out}\n")
    assert "Review this note" in out.read_text()


def test_metrics_in_trace_mode_also_land_in_the_store(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPANWISE_MODE", "trace")  # the user keeps spanwise in trace mode
    flow = write_workflow(tmp_path, {"name": "kept", "nodes": [echo_llm("ask", "hello there")]})
    result = run_spanwise("run", str(flow), "--output-format", "json", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert result.json()["metrics"]["workflow"]["llm_calls"] == 1
    listed = run_spanwise("traces", "--json").json()
    assert [t["name"] for t in listed] == ["workflow kept"]
    assert listed[0]["llm_call_count"] == 1
    assert not (home / "debug").exists()  # no --trace: no trace file


@pytest.mark.parametrize("flags", [(), ("--output-format", "json"), ("--trace",)])
def test_every_mode_loads_llm_then_freezes_the_heap_before_the_run(
    tmp_path: Path, home: Path, flags: tuple[str, ...]
) -> None:
    """The libraries' long-lived objects are out of the collector's reach during the run,
    with or without flags, so what the flags cost is not hidden in full collections."""
    import gc

    flow = write_workflow(tmp_path, {"name": "f", "nodes": [echo_llm("ask", "hi")]})
    gc.unfreeze()
    try:
        result = run_cli("run", str(flow), *flags)
        assert result.code == 0, result.stderr
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


@pytest.mark.parametrize("flags", [(), ("--output-format", "json"), ("--trace",)])
def test_every_mode_collects_the_runs_young_objects_less_often(
    tmp_path: Path, home: Path, flags: tuple[str, ...]
) -> None:
    """During the run the young generation is collected every RUN_GC_THRESHOLD
    allocations rather than Python's 700, the same whatever the flags."""
    from spanwise.cli.run import RUN_GC_THRESHOLD

    probe = {"id": "gc", "type": "python", "params": {"callable": "gc:get_threshold"}}
    flow = write_workflow(tmp_path, {"name": "gc", "nodes": [probe]})
    result = run_spanwise("run", str(flow), *flags, cwd=tmp_path)
    assert result.code == 0, result.stderr
    printed = json.loads(result.stdout)  # the envelope, or the result itself as JSON text
    thresholds = printed["result"]["result"] if "--output-format" in flags else printed
    assert thresholds[0] == RUN_GC_THRESHOLD > 700


def test_json_alone_runs_no_writer_thread_and_trace_runs_one(tmp_path: Path, home: Path) -> None:
    """Metrics alone are collected in the program's thread: the run sees only its own
    thread. With --trace the store's writer runs beside it."""
    threads = {"id": "threads", "type": "python", "params": {"callable": "threading:active_count"}}
    flow = write_workflow(tmp_path, {"name": "threads", "nodes": [threads]})
    metrics = run_spanwise("run", str(flow), "--output-format", "json", cwd=tmp_path)
    assert metrics.code == 0, metrics.stderr
    assert metrics.json()["result"] == {"result": 1}
    traced = run_spanwise("run", str(flow), "--trace", cwd=tmp_path)
    assert traced.code == 0, traced.stderr
    assert traced.stdout.strip() == "2"


def test_json_run_of_a_known_unpriced_model_does_not_load_the_price_tables(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first run learns from genai-prices that ``echo`` has no price and keeps that in
    the price-line cache; later metrics-only runs answer from the cache without importing
    the tables (0.1-0.3 s), and still report the model as unpriced."""
    (tmp_path / "probe.py").write_text(
        "import sys\n\ndef loaded(name):\n    return name in sys.modules\n", encoding="utf-8"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    probe = {
        "id": "probe",
        "type": "python",
        "params": {"callable": "probe:loaded", "args": {"name": "genai_prices"}},
    }
    flow = write_workflow(
        tmp_path,
        {
            "name": "cached",
            "nodes": [echo_llm("ask", "hi"), probe],
            "edges": [{"from": "ask", "to": "probe"}],
        },
    )
    seen = []
    for _ in range(2):
        run = run_spanwise("run", str(flow), "--output-format", "json", cwd=tmp_path)
        assert run.code == 0, run.stderr
        envelope = run.json()
        assert envelope["total_cost_usd"] is None
        assert envelope["metrics"]["total"]["unavailable_models"] == ["echo"]
        seen.append(envelope["result"]["result"])
    assert seen == [True, False]
    assert (home / "cache" / "price-lines.json").is_file()


@pytest.fixture
def model_list_builds() -> Any:
    """How many times llm builds its model list (every plugin's ``register_models``)."""
    import types

    from llm.plugins import pm

    import llm

    builds: list[int] = []
    plugin = types.ModuleType("spanwise_test_counter")

    @llm.hookimpl
    def register_models(register: Any) -> None:
        builds.append(1)

    plugin.register_models = register_models  # type: ignore[attr-defined]
    pm.register(plugin, name="spanwise-test-counter")
    try:
        yield builds
    finally:
        pm.unregister(name="spanwise-test-counter")


@pytest.mark.parametrize("flags", [(), ("--output-format", "json")])
def test_the_models_a_workflow_names_are_looked_up_once_before_the_run(
    tmp_path: Path, test_models: object, model_list_builds: list[int], flags: tuple[str, ...]
) -> None:
    """Building llm's model list is loading (about 0.2 s with the openai plugin), done once
    before the run rather than inside the first llm node's time; a templated model name
    is still looked up when its node runs."""
    flow = write_workflow(
        tmp_path,
        {
            "name": "models",
            "nodes": [
                echo_llm("first", "one", model="gpt-4o-mini"),
                echo_llm("second", "two", model="no-usage"),
                echo_llm("again", "three", model="gpt-4o-mini"),
            ],
            "edges": [{"from": "first", "to": "second"}, {"from": "second", "to": "again"}],
        },
    )
    result = run_cli("run", str(flow), *flags)
    assert result.code == 0, result.stderr
    assert len(model_list_builds) == 1
    assert "priced: three" in result.stdout

    model_list_builds.clear()
    templated = write_workflow(
        tmp_path,
        {
            "name": "templated",
            "inputs": {"which": {"default": "no-usage"}},
            "nodes": [
                echo_llm("named", "one", model="gpt-4o-mini"),
                echo_llm("chosen", "two", model="${inputs.which}"),
            ],
            "edges": [{"from": "named", "to": "chosen"}],
        },
        name="templated.json",
    )
    result = run_cli("run", str(templated), *flags)
    assert result.code == 0, result.stderr
    assert "no usage: two" in result.stdout
    assert len(model_list_builds) == 2  # before the run, and by the templated node


def test_a_model_no_plugin_knows_fails_its_node_with_one_line(tmp_path: Path) -> None:
    flow = write_workflow(
        tmp_path,
        {"name": "unknown", "nodes": [shell("first", "echo ok"), echo_llm("ask", "hi", "nope")]},
    )
    result = run_spanwise("run", str(flow), "--output-format", "json", cwd=tmp_path)
    assert result.code == 1
    envelope = result.json()
    assert envelope["error"] == ("node 'ask' (llm) failed: unknown model 'nope' (see: llm models)")
    assert list(envelope["metrics"]["workflow"]["node_timings"]) == ["first", "ask"]


@pytest.mark.parametrize("flags", [(), ("--output-format", "json")])
def test_printing_the_result_does_not_load_rich(tmp_path: Path, flags: tuple[str, ...]) -> None:
    """Plain text and JSON are written as they are: Rich (about 14 ms to import) is
    not loaded for them."""
    import subprocess
    import sys

    flow = write_workflow(tmp_path, {"name": "plain", "nodes": [shell("hello", "echo hello")]})
    script = (
        "import sys\n"
        "from spanwise.cli import cli\n"
        f"cli.main(['run', {str(flow)!r}, *{list(flags)!r}], standalone_mode=False)\n"
        "print('rich loaded' if 'rich' in sys.modules else 'rich not loaded', file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "rich not loaded"
    if flags:
        assert json.loads(proc.stdout)["result"]["stdout"] == "hello\n"
    else:
        assert proc.stdout == "stdout: hello\nstderr: \nexit_code: 0\n"


def test_json_is_indented_on_a_terminal_and_one_line_when_piped(tmp_path: Path) -> None:
    """A person reading the envelope in a terminal gets it indented; a program reading it
    from a pipe gets one line. Both are the same JSON."""
    import os
    import pty
    import subprocess
    import sys

    flow = write_workflow(tmp_path, {"name": "plain", "nodes": [shell("hello", "echo hello")]})
    spanwise = str(Path(sys.executable).parent / "spanwise")
    command = [spanwise, "run", str(flow), "--output-format", "json"]
    piped = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    assert piped.stdout.count("\n") == 1
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.run(
            command, stdout=secondary, stderr=subprocess.PIPE, timeout=120, check=True
        )
        os.close(secondary)
        chunks = []
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the terminal's other end is closed: all was read
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(primary)
    shown = b"".join(chunks).decode().replace("\r\n", "\n")
    assert proc.returncode == 0
    assert shown.startswith('{\n  "result": {\n')
    on_terminal, from_pipe = json.loads(shown), json.loads(piped.stdout)
    assert on_terminal.keys() == from_pipe.keys()
    assert (
        on_terminal["result"]
        == from_pipe["result"]
        == {
            "stdout": "hello\n",
            "stderr": "",
            "exit_code": 0,
        }
    )


POLL_STORE = """
import sqlite3, sys, time
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    try:
        with sqlite3.connect(sys.argv[1]) as db:
            found = db.execute("SELECT count(*) FROM spans WHERE name = 'first'").fetchone()[0]
    except sqlite3.Error:
        found = 0
    if found:
        print("stored")
        break
    time.sleep(0.01)
else:
    print("not stored")
"""


def test_a_traced_run_is_in_the_store_while_it_runs(tmp_path: Path, home: Path) -> None:
    """`spanwise trace` and the dashboard show the nodes a running workflow has finished:
    the writer stores them during the run, not only when it ends."""
    import sys

    poll = tmp_path / "poll.py"
    poll.write_text(POLL_STORE, encoding="utf-8")
    command = f"'{sys.executable}' '{poll}' '{home / 'spanwise.db'}'"
    flow = write_workflow(
        tmp_path,
        {"name": "live", "nodes": [shell("first", "echo one"), shell("later", command)]},
    )
    result = run_spanwise("run", str(flow), "--trace", "--output-format", "json", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert result.json()["result"]["stdout"] == "stored\n"


def test_trace_mode_in_config_toml_also_stores_a_json_run(tmp_path: Path, home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text('mode = "trace"\n', encoding="utf-8")
    flow = write_workflow(tmp_path, {"name": "kept", "nodes": [shell("say", "echo hi")]})
    result = run_spanwise("run", str(flow), "--output-format", "json", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert result.json()["result"]["stdout"] == "hi\n"
    listed = run_spanwise("traces", "--json").json()
    assert [t["name"] for t in listed] == ["workflow kept"]


def test_a_bad_mode_in_config_toml_is_one_line_and_exit_1(tmp_path: Path, home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text('mode = "loud"\n', encoding="utf-8")
    flow = write_workflow(tmp_path, {"name": "f", "nodes": [shell("say", "echo hi")]})
    result = run_spanwise("run", str(flow), "--output-format", "json", cwd=tmp_path)
    assert result.code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: invalid mode in {home / 'config.toml'} 'loud': expected one of off, metrics, trace"
    )
