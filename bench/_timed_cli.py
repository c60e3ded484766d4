"""``spanwise`` as the console script runs it (``spanwise.cli.main``), plus two readings
of the preload step (loading ``llm``, its plugins and the workflow's models, then
``gc.freeze()``): how long it took, and the moment it ended on the system's monotonic
clock.

Everything before that moment (interpreter start, imports, loading the workflow, the
preload itself) is the same work whatever the flags: the flags change nothing until the
run starts. The workflow benchmark splits each process's wall time there.

    python bench/_timed_cli.py run workflow.json [flags]
    (writes "<preload seconds> <perf_counter at its end>" to $TIMED_CLI_OUT)
"""

from __future__ import annotations

import atexit
import os
import sys
import time
from pathlib import Path
from typing import Any

import spanwise.cli.run as run_module

_preload = run_module._preload
_readings: list[str] = []


def _timed_preload(job: Any) -> None:
    start = time.perf_counter()
    try:
        _preload(job)
    finally:
        end = time.perf_counter()  # CLOCK_MONOTONIC: comparable with the parent's clock
        _readings.append(f"{end - start:.6f} {end:.6f}")


def _report() -> None:
    if _readings:
        Path(os.environ["TIMED_CLI_OUT"]).write_text(_readings[0], encoding="utf-8")


if __name__ == "__main__":
    run_module._preload = _timed_preload
    atexit.register(_report)
    from spanwise.cli import main

    main(sys.argv[1:])
