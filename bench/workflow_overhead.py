"""What metrics and tracing cost a workflow run: a 200-node workflow whose nodes do real
small work (write a file, read it back, count its bytes with the shell, ask the offline
``echo`` model about it, shorten the answer in Python), run with no flags, with
``--output-format json`` and with ``--trace``.

Three measurements, each the median of interleaved rounds (so load drifts hit every mode):

- the whole command, ``spanwise run bench.json [flags]``, as a fresh process (what a user
  waits for: interpreter start, imports, the run, the trace file and the store);
- the run alone, in one warm process: the same CLI command invoked in-process after a
  warm-up, so imports and plugin loading are out of the figure and only the run and what
  the flags add remain;
- the instrumentation alone: the warm measurement on 200 trivial ``python`` nodes, so
  that nearly everything the flags add is spanwise's own per-node work.

Wall time and CPU time (all threads, plus the shell nodes' processes) are both reported.
The whole-command medians come with a 95% bootstrap interval, because on a shared VM one
run of this script can move them by more than the 1% being measured. Each whole-command
run is also split in two at the end of its preload step (see ``_timed_cli.py``): the
start-up before it (interpreter, imports, the workflow file, ``llm`` with its plugins and
models) is the same work in every mode, and the run after it is where everything the flags
change happens. The figures are given a second time with every run's start-up replaced by
the median start-up of all runs, which takes the start-up's noise (most of it) out of the
comparison without favouring any mode.

A fourth measurement does not depend on the machine's load at all: the instructions the
``spanwise run`` process executes (all its threads), counted by Valgrind's cachegrind, once
per mode. Counts repeat to within about 0.01% from run to run, so they show what the flags
add as work to do, separate from timing noise. It runs when ``valgrind`` is installed
(``./dev bench`` installs it); the shell nodes' own processes are not counted, so the
ratio errs on the high side.

    .venv/bin/python bench/workflow_overhead.py [--quick] [--rounds N] [--no-write]

``--rounds N`` sets the whole-command rounds (default 80); ``--no-write`` prints the
figures without updating docs/benchmarks.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import git_rev, write_section

QUICK = "--quick" in sys.argv
WRITE = "--no-write" not in sys.argv
GROUPS = 40  # × 5 nodes = 200
ROUNDS_CLI = 6 if QUICK else 80
if "--rounds" in sys.argv:
    _given = sys.argv[sys.argv.index("--rounds") + 1 :][:1]
    if not _given or not _given[0].isdigit() or int(_given[0]) < 1:
        sys.exit("workflow_overhead: --rounds needs a positive whole number")
    ROUNDS_CLI = int(_given[0])
ROUNDS_WARM = 6 if QUICK else 30
SPANWISE = str(Path(sys.executable).parent / "spanwise")
TIMED_CLI = str(Path(__file__).resolve().parent / "_timed_cli.py")
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


def build_bare_workflow(folder: Path) -> Path:
    """200 ``python`` nodes that each pass the previous result through ``str``: no I/O, no
    model, so what the flags add is the instrumentation itself."""
    nodes = [
        {
            "id": f"n{i}",
            "type": "python",
            "params": {
                "callable": "builtins:str",
                "args": {"object": f"${{n{i - 1}.result}}" if i else "start"},
            },
        }
        for i in range(GROUPS * 5)
    ]
    file = folder / "bare.json"
    file.write_text(json.dumps({"name": "bare-200", "nodes": nodes}), encoding="utf-8")
    return file


WARM_CHILD = r"""
import gc, json, resource, sys, time
from click.testing import CliRunner
from spanwise.cli import cli
workflow, rounds = sys.argv[1], int(sys.argv[2])
modes = json.loads(sys.argv[3])
runner = CliRunner()
def cpu():
    own = time.process_time()  # this process, every thread (the writer's too)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # the shell nodes
    return own + kids.ru_utime + kids.ru_stime
def once(flags):
    gc.collect()  # every run starts from a clean heap, whatever ran before it
    c, t = cpu(), time.perf_counter()
    result = runner.invoke(cli, ["run", workflow, *flags], catch_exceptions=False)
    wall, used = time.perf_counter() - t, cpu() - c
    assert result.exit_code == 0, result.output
    return [wall, used]
for flags in modes.values():  # warm-up: imports, plugins, price tables, the store
    once(flags)
times = {name: [] for name in modes}
names = list(modes)
for r in range(rounds):
    for name in names[r % 3:] + names[:r % 3]:  # rotate the order: no mode always goes first
        times[name].append(once(modes[name]))
print(json.dumps(times))
"""

# mode -> [[wall s, cpu s, (preload s, start-up s, run s)], ...]
Samples = dict[str, list[list[float]]]


def measure_cli(workflow: Path, env: dict[str, str]) -> Samples:
    """The whole command, a fresh process each time, through ``_timed_cli.py``: the
    ``spanwise`` console script plus a timer on its preload step. Each sample also splits
    the wall time at the preload's end (the child's ``perf_counter`` is the same
    system-wide monotonic clock as this process's)."""
    preload_file = workflow.parent / "preload-seconds.txt"
    env = dict(env, TIMED_CLI_OUT=str(preload_file))

    def once(flags: list[str]) -> list[float]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, TIMED_CLI, "run", str(workflow), *flags],
            env=env,
            check=True,
            capture_output=True,
        )
        end = time.perf_counter()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        preload, preload_end = map(float, preload_file.read_text(encoding="utf-8").split())
        return [end - start, used, preload, preload_end - start, end - preload_end]

    for flags in MODES.values():  # warm the page cache and create the store once
        once(flags)
    times: Samples = {name: [] for name in MODES}
    names = list(MODES)
    for r in range(ROUNDS_CLI):
        for name in names[r % 3 :] + names[: r % 3]:  # rotate: no mode always goes first
            times[name].append(once(MODES[name]))
    return times


def start_pooled(times: Samples) -> Samples:
    """Each run's wall time with its start-up (spawn to the end of the preload step: the
    same code in every mode, before the flags change anything) replaced by the median
    start-up of all runs of all modes. What is left to vary is the run itself, where every
    difference between the modes lies. CPU times are kept as measured."""
    start = statistics.median(s[3] for samples in times.values() for s in samples)
    return {name: [[start + s[4], s[1]] for s in samples] for name, samples in times.items()}


def measure_warm(workflow: Path, env: dict[str, str]) -> Samples:
    out = subprocess.run(
        [sys.executable, "-c", WARM_CHILD, str(workflow), str(ROUNDS_WARM), json.dumps(MODES)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def measure_instructions(workflow: Path, env: dict[str, str]) -> dict[str, int] | None:
    """Instructions of one ``spanwise run`` per mode (and no flags twice, to show how well
    the count repeats), two processes at a time. None without valgrind."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    # Fixed hash seed: the same dict layouts every run. One BLAS thread: numpy (which
    # ``llm`` imports) otherwise starts threads that spin for a time-dependent while.
    quiet = dict(env, PYTHONHASHSEED="0", OPENBLAS_NUM_THREADS="1")
    runs = {"no flags": [], "no flags (again)": [], **MODES}

    def start(flags: list[str], out: Path) -> subprocess.Popen[bytes]:
        command = [valgrind, "--tool=cachegrind", "--cache-sim=no"]
        command += [f"--cachegrind-out-file={out}", sys.executable, SPANWISE]
        return subprocess.Popen(
            [*command, "run", str(workflow), *flags],
            env=quiet,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    counts: dict[str, int] = {}
    names = list(runs)
    with tempfile.TemporaryDirectory() as tmp:
        for pair in (names[:2], names[2:]):
            procs = {name: start(runs[name], Path(tmp) / "cachegrind.out") for name in pair}
            for name, proc in procs.items():
                _, err = proc.communicate()
                found = re.search(rb"I\s+refs:\s+([\d,]+)", err)
                if proc.returncode != 0 or found is None:
                    raise RuntimeError(f"cachegrind failed for {name}: {err[-500:]!r}")
                counts[name] = int(found.group(1).replace(b",", b""))
    return counts


def instructions_table(counts: dict[str, int]) -> tuple[str, dict[str, float]]:
    base = (counts["no flags"] + counts["no flags (again)"]) / 2
    rows = ["| mode | instructions | ratio |", "| --- | ---: | ---: |"]
    ratios = {}
    for name, count in counts.items():
        ratios[name] = count / base
        rows.append(f"| `{name}` | {count / 1e6:,.1f} M | {ratios[name]:.4f} |")
    return "\n".join(rows), ratios


def bootstrap_interval(times: Samples, name: str, draws: int = 4000) -> tuple[float, float]:
    """95% interval of the median-wall-time ratio ``name`` / no flags, by resampling."""
    rng = random.Random(20261121)
    mode = [s[0] for s in times[name]]
    base = [s[0] for s in times["no flags"]]
    ratios = sorted(
        statistics.median(rng.choices(mode, k=len(mode)))
        / statistics.median(rng.choices(base, k=len(base)))
        for _ in range(draws)
    )
    return ratios[int(draws * 0.025)], ratios[int(draws * 0.975)]


def stored_spans(home: Path, trace_file: Path) -> int:
    """How many spans the store holds for the run a trace file describes."""
    import sqlite3

    trace_id = json.loads(trace_file.read_text(encoding="utf-8"))["trace_id"]
    with contextlib.closing(sqlite3.connect(home / "spanwise.db")) as db:
        row = db.execute("SELECT count(*) FROM spans WHERE trace_id = ?", (trace_id,)).fetchone()
    return int(row[0])


def table(times: Samples) -> tuple[str, dict[str, float], dict[str, float]]:
    def med(name: str, i: int) -> float:
        return statistics.median(sample[i] for sample in times[name])

    rows = [
        "| mode | wall (median) | wall ratio | CPU (median) | CPU ratio |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    walls, cpus = {}, {}
    for name in times:
        walls[name] = med(name, 0) / med("no flags", 0)
        cpus[name] = med(name, 1) / med("no flags", 1)
        rows.append(
            f"| `{name}` | {med(name, 0) * 1000:,.0f} ms | {walls[name]:.3f} "
            f"| {med(name, 1) * 1000:,.0f} ms | {cpus[name]:.3f} |"
        )
    return "\n".join(rows), walls, cpus


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        workflow = build_workflow(folder)
        env = dict(os.environ, SPANWISE_HOME=str(folder / "home"))
        # PYTHONDONTWRITEBYTECODE: as installed, modules load from bytecode (the warm-up
        # runs write it), not compiled again at every start when their source is newer.
        for var in (
            "SPANWISE_MODE",
            "SPANWISE_STORE",
            "SPANWISE_CAPTURE_CONTENT",
            "PYTHONDONTWRITEBYTECODE",
        ):
            env.pop(var, None)
        # Logfire (installed by the bench extra for the core benchmark's peers) registers a
        # pydantic plugin, which pydantic imports in every process that builds a model:
        # about 0.35 s more start-up per `spanwise run` that a spanwise user does not have.
        env["PYDANTIC_DISABLE_PLUGINS"] = _without_peer_plugins(env)
        cli_times = measure_cli(workflow, env)
        counts = None if QUICK else measure_instructions(workflow, env)
        warm_times = measure_warm(workflow, env)
        bare_times = measure_warm(build_bare_workflow(folder), env)
        trace_file = max(
            (folder / "home" / "debug").glob("workflow-trace-bench-200-*.json"),
            key=os.path.getmtime,
        )
        trace_kib = trace_file.stat().st_size / 1024
        spans = stored_spans(folder / "home", trace_file)
    cli_table, cli_wall, cli_cpu = table(cli_times)
    pooled_times = start_pooled(cli_times)
    pooled_table, pooled_wall, _ = table(pooled_times)
    warm_table, warm_wall, warm_cpu = table(warm_times)
    bare_table, _, _ = table(bare_times)
    per_node = {
        name: (
            statistics.median(s[1] for s in bare_times[name])
            - statistics.median(s[1] for s in bare_times["no flags"])
        )
        / 200
        * 1e6
        for name in bare_times
    }
    json_mode, trace_mode = "--output-format json", "--trace"
    noise = _variation(cli_times["no flags"])
    pooled_noise = _variation(pooled_times["no flags"])
    spread = {name: bootstrap_interval(cli_times, name) for name in (json_mode, trace_mode)}
    pooled_spread = {
        name: bootstrap_interval(pooled_times, name) for name in (json_mode, trace_mode)
    }
    if counts is not None:
        counts_table, counted = instructions_table(counts)
        instructions_text = f"""**Instructions executed** (deterministic; one `spanwise run` per mode under
Valgrind's cachegrind, with a fixed hash seed and one BLAS thread; every thread of the process
counted, the shell nodes' processes not):

{counts_table}

By this count `--output-format json` adds {_pct(counted[json_mode])} and `--trace` \
{_pct(counted[trace_mode])} of work; the two runs without flags differ by \
{abs(counted["no flags (again)"] - counted["no flags"]) * 100:.3f}%.
"""
    else:
        instructions_text = "(Instruction counts skipped: valgrind is not installed.)\n"
    body = f"""
Command: `.venv/bin/python bench/workflow_overhead.py` (commit {git_rev()}). A 200-node workflow
(40 × write-file → read-file → shell `wc -c` → llm `echo` → python `textwrap.shorten`). The
modes run interleaved, their order rotated every round; figures are medians of wall time and of
CPU time (the process, all its threads, and the shell nodes' processes). Targets:
`--output-format json` within 1% of no flags, `--trace` within 3%.

**The whole command** (a fresh `spanwise run` process each time, {ROUNDS_CLI} rounds), as timed:

{cli_table}

The same runs with each run's start-up (identical work in every mode) replaced by the median
start-up of all runs; see "Noise" below:

{pooled_table}

**The run alone** (the same command invoked in one warm process, {ROUNDS_WARM} rounds after a
warm-up, `gc.collect()` before each; interpreter start, imports and plugin loading excluded):

{warm_table}

| added by | whole command, as timed (wall / CPU) | 95% interval | start-up pooled (wall) | 95% interval | run alone (wall / CPU) |
| --- | ---: | ---: | ---: | ---: | ---: |
| `--output-format json` (target 1%) | {_pct(cli_wall[json_mode])} / {_pct(cli_cpu[json_mode])} \
| {_range(spread[json_mode])} | **{_pct(pooled_wall[json_mode])}** | {_range(pooled_spread[json_mode])} \
| {_pct(warm_wall[json_mode])} / {_pct(warm_cpu[json_mode])} |
| `--trace` (target 3%) | {_pct(cli_wall[trace_mode])} / {_pct(cli_cpu[trace_mode])} \
| {_range(spread[trace_mode])} | **{_pct(pooled_wall[trace_mode])}** | {_range(pooled_spread[trace_mode])} \
| {_pct(warm_wall[trace_mode])} / {_pct(warm_cpu[trace_mode])} |

{instructions_text}
**The instrumentation alone** (the same warm-process measurement on 200 `python` nodes that
each pass the previous result through `str`: no I/O and no model, so nearly all that the
flags add is spanwise's own work; {ROUNDS_WARM} rounds):

{bare_table}

Per node that is {per_node["--output-format json"]:.0f} µs of CPU with `--output-format json`
and {per_node["--trace"]:.0f} µs with `--trace` (wrappers, spans, store rows, trace-file entry),
setup and teardown included.

The `--trace` runs also wrote a {trace_kib:,.0f} KiB trace file and the run's {spans} spans to the
SQLite store.

Reading: the whole command is what a user waits for, and most of it is the interpreter, `llm`
and its plugins (the openai SDK among them) loading and `llm` building its model list, in every
mode. `spanwise run` does both before the run, then freezes the heap (`gc.freeze()`) and has
the run's own objects collected every 10,000 allocations rather than 700; when it is done it
ends the process without the interpreter's object-by-object teardown of that heap (threads
joined, `atexit` handlers run, output flushed: about 9 ms less). All of this is the same
whatever the flags.
With `--output-format json` alone spanwise runs in metrics mode: the run's records go straight to
the command's collector in the program's thread (which keeps the totals; spanwise's own summary
aggregator is not fed), with no queue, no writer thread and no files.
`--trace` adds the store (the writer thread, opening SQLite, and closing it, which checkpoints
the WAL) and the trace file; the collector still gets every record as it ends, so the trace file
is built (its lines encoded in C) while the writer stores the last spans and closes the store.
During a stored run the writer stores what has ended every 50 ms (the library's default is
200 ms), mostly while the program waits on the shell nodes' commands.
The child processes run with `PYDANTIC_DISABLE_PLUGINS=logfire-plugin`: Logfire, installed by
the bench extra for the core benchmark's peers, registers a pydantic plugin that would load it
into every `spanwise run` (about 0.35 s of start-up that a spanwise user does not have, and
that would make every ratio here look smaller). The `echo` model is known to have no price
(the cached price lines say so), so the price tables are not loaded. The warm "run alone" leaves
out the start-up, so the same milliseconds are a larger share of it.

Noise: without flags, the whole command's wall time had a coefficient of variation of
{noise:.1f}% over these rounds. On a shared VM the machine itself runs 10-50% slower at times, so
the medians as timed are uncertain by several percent (their 95% intervals above). Every run is
therefore split in two where its preload step ends (`bench/_timed_cli.py`: the console script
with a timer on `_preload`, which loads `llm`, its plugins and the models the workflow names,
then freezes the heap). The start-up before that point runs the same code in every mode, since
the flags change nothing until the run begins; its medians per mode ({_segments(cli_times, 3)})
differ only as the machine's speed did. The run after it holds everything the flags change
(medians {_segments(cli_times, 4)}). Replacing each run's start-up by the median start-up of
all {3 * ROUNDS_CLI} runs keeps every difference between the modes and drops most of the noise:
the coefficient of variation falls to {pooled_noise:.1f}%, and the 95% intervals narrow to the
figures in the "start-up pooled" columns. The instruction counts give the added work without any
timing at all.
"""
    print(body)
    if WRITE:
        write_section("workflow-overhead", "Workflow runner: cost of metrics and tracing", body)


def _without_peer_plugins(env: dict[str, str]) -> str:
    """``PYDANTIC_DISABLE_PLUGINS`` with the peers' plugin added to what is set already."""
    given = env.get("PYDANTIC_DISABLE_PLUGINS", "")
    if given.lower() in ("__all__", "1", "true"):
        return given
    names = [name.strip() for name in given.split(",") if name.strip()]
    return ",".join([*names, "logfire-plugin"])


def _range(interval: tuple[float, float]) -> str:
    return f"{_pct(interval[0])} to {_pct(interval[1])}"


def _segments(times: Samples, index: int) -> str:
    """Median of one part of the wall time per mode (3: start-up, 4: the run)."""
    return ", ".join(
        f"{name}: {statistics.median(s[index] for s in samples) * 1000:,.0f} ms"
        for name, samples in times.items()
    )


def _variation(samples: list[list[float]]) -> float:
    """Coefficient of variation of the wall times, in percent."""
    walls = [sample[0] for sample in samples]
    return statistics.pstdev(walls) / statistics.mean(walls) * 100


def _pct(ratio: float) -> str:
    return f"{(ratio - 1) * 100:+.1f}%"


if __name__ == "__main__":
    main()
