"""Cost of an error report: capturing a 50-frame stack whose frames hold ordinary locals
(target ≤ 5 ms), and the size of what is written.

    .venv/bin/python bench/debug_errors.py [--quick]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import spanwise
from _report import git_rev, write_section
from spanwise.debug._errors import build_report, capture_exception

QUICK = "--quick" in sys.argv
RUNS = 30 if QUICK else 100
DEPTH = 50


class Task:
    def __init__(self, n: int) -> None:
        self.id = f"task_{n}"
        self.status = "todo"
        self.tags = ["a", "b"]


def descend(depth: int, state: dict[str, Any]) -> None:
    # Ordinary locals: numbers, short strings, a small dict and list, an object.
    name = f"step-{depth}"
    count = depth * 3
    ratio = depth / 7
    options = {"retries": 3, "model": "gpt-4o", "temperature": 0.2}
    history = list(range(10))
    task = Task(depth)
    if depth == 0:
        raise KeyError(f"missing {name} {count} {ratio} {options} {history} {task.id}")
    descend(depth - 1, state)


def make_error() -> BaseException:
    state = {"tasks": [{"id": f"t{i}", "status": "todo"} for i in range(20)], "version": 3}
    try:
        descend(DEPTH - 1, state)
    except KeyError as exc:
        return exc
    raise AssertionError("unreachable")


def timed(fn: Any) -> list[float]:
    out = []
    for _ in range(RUNS):
        exc = make_error()
        t0 = time.perf_counter()
        fn(exc)
        out.append((time.perf_counter() - t0) * 1000)
        spanwise.flush(60)  # the writer writes the file now, not during the next capture
    return out


def main() -> None:
    home = tempfile.mkdtemp()
    spanwise.configure("trace", home=home)
    spanwise.flush(120)  # the writer's start-up work is done before timing
    state = {"tasks": [{"id": f"t{i}", "status": "todo"} for i in range(20)], "version": 3}
    with spanwise.span("bench") as span:
        build = timed(lambda exc: build_report(exc, lambda: state, span))
        full = timed(lambda exc: capture_exception(exc, lambda: state))
    spanwise.flush(120)
    report = build_report(make_error(), lambda: state, span)
    frames = len(report["frames"])
    locals_per_frame = len(report["frames"][-1]["locals"])
    files = sorted((Path(home) / "sessions" / "default" / "errors").glob("*.json"))
    size_kib = files[0].stat().st_size / 1024 if files else 0.0
    status = spanwise.status()["pipeline"]
    spanwise.shutdown()
    body = f"""
Command: `.venv/bin/python bench/debug_errors.py` (commit {git_rev()}). A `KeyError` raised at
the bottom of {DEPTH} nested calls; each frame holds {locals_per_frame} ordinary locals (ints,
a float, short strings, a 3-key dict, a 10-item list, a small object, the state dict).
{RUNS} captures each, in trace mode.

| what | median | p95 | max | target |
| --- | ---: | ---: | ---: | ---: |
| build the report ({frames} frames, locals, state snapshot, redaction) | {statistics.median(build):.2f} ms | {sorted(build)[int(0.95 * len(build)) - 1]:.2f} ms | {max(build):.2f} ms | ≤ 5 ms |
| `capture_exception` (report + attach + queue; the file is written by the writer thread) | {statistics.median(full):.2f} ms | {sorted(full)[int(0.95 * len(full)) - 1]:.2f} ms | {max(full):.2f} ms | ≤ 5 ms |

Target ≤ 5 ms for the capture: {"met" if statistics.median(full) <= 5 else "not met"} at the median on this machine
(the p95 and max include the writer thread and other processes taking turns on 2 cores).

Each error file written was {size_kib:.1f} KiB ({len(files)} files written, pipeline
dropped {status["dropped"] if status else "-"}). The first capture in a process also pays for
loading the capture modules (not included: the runs above are warm).
"""
    write_section("debug-errors", "Debugging toolkit: error reports", body)
    print(body)
    json.dumps(report)  # the report is plain JSON


if __name__ == "__main__":
    main()
