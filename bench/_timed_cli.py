"""``spanwise`` as the console script runs it, plus one timer: how long the command's
preload step took (loading ``llm`` and its plugins, then ``gc.freeze()``).

That step does the same work whatever the flags, and it runs before anything the flags
change, so its duration measures how fast this machine was during this one process. The
workflow benchmark divides by it to take the machine's speed swings out of its figures.

    python bench/_timed_cli.py run workflow.json [flags]   (writes seconds to $TIMED_CLI_OUT)
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
_spent: list[float] = []


def _timed_preload(job: Any) -> None:
    start = time.perf_counter()
    try:
        _preload(job)
    finally:
        _spent.append(time.perf_counter() - start)


def _report() -> None:
    if _spent:
        Path(os.environ["TIMED_CLI_OUT"]).write_text(f"{_spent[0]:.6f}", encoding="utf-8")


if __name__ == "__main__":
    run_module._preload = _timed_preload
    atexit.register(_report)
    from spanwise.cli import cli

    sys.exit(cli.main(sys.argv[1:], prog_name="spanwise"))
