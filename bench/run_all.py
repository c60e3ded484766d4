"""Run every benchmark under bench/ in turn; each writes its own section of
docs/benchmarks.md. ``./dev bench`` calls this. Pass names to run only some:
``bench/run_all.py core_spans llm_overhead``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = [
    "core_spans",
    "llm_overhead",
    "debug_locks",
    "debug_errors",
    "efficiency_select",
    "workflow_overhead",
    "trace_size",
    "server_ingest",
    "server_pages",
]


def main(argv: list[str]) -> int:
    names = argv or ORDER
    failed = []
    for name in names:
        script = HERE / f"{name}.py"
        print(f"== {name}", flush=True)
        t0 = time.monotonic()
        code = subprocess.call([sys.executable, str(script)])
        print(f"== {name}: exit {code} after {time.monotonic() - t0:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
