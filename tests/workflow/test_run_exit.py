"""``spanwise run`` ends its process without the interpreter's teardown of the heap it
loaded, and a user sees no difference: output arrives whole, the exit status is the same,
threads the workflow started are waited for and its ``atexit`` handlers run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import run_spanwise, write_workflow

LEAVING = """
import atexit, pathlib, threading, time

def arrange(folder, size):
    def late():
        time.sleep(0.3)
        pathlib.Path(folder, "thread.txt").write_text("joined")

    threading.Thread(target=late).start()  # not a daemon: the exit waits for it
    atexit.register(pathlib.Path(folder, "atexit.txt").write_text, "ran")
    return "x" * size
"""


def leaving_flow(folder: Path, *, fail: bool) -> Path:
    (folder / "leaving.py").write_text(LEAVING, encoding="utf-8")
    nodes: list[dict[str, object]] = [
        {
            "id": "arrange",
            "type": "python",
            "params": {
                "callable": "leaving:arrange",
                "args": {"folder": str(folder), "size": 100},
            },
        }
    ]
    if fail:
        nodes.append({"id": "boom", "type": "shell", "params": {"command": "exit 3"}})
    return write_workflow(folder, {"name": "leaving", "nodes": nodes})


@pytest.mark.parametrize("flags", [(), ("--output-format", "json"), ("--trace",)])
def test_a_run_keeps_what_a_normal_exit_does(
    tmp_path: Path, home: Path, flags: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)  # output waits in a buffer
    flow = leaving_flow(tmp_path, fail=False)
    result = run_spanwise("run", str(flow), *flags, cwd=tmp_path)
    assert result.code == 0, result.stderr
    # Less than a pipe's buffer: it reaches the reader only if the exit flushes it.
    if "--output-format" in flags:
        assert json.loads(result.stdout)["result"] == {"result": "x" * 100}
    else:
        assert result.stdout == "x" * 100 + "\n"
    assert (tmp_path / "thread.txt").read_text() == "joined"
    assert (tmp_path / "atexit.txt").read_text() == "ran"


@pytest.mark.parametrize("flags", [(), ("--output-format", "json")])
def test_a_failed_run_still_exits_1_with_its_error(
    tmp_path: Path, home: Path, flags: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)
    flow = leaving_flow(tmp_path, fail=True)
    result = run_spanwise("run", str(flow), *flags, cwd=tmp_path)
    assert result.code == 1
    error = "node 'boom' (shell) failed: command exited with code 3"
    if flags:
        assert json.loads(result.stdout)["error"] == error
    else:
        assert result.stderr.strip() == f"Error: {error}"
    assert (tmp_path / "atexit.txt").read_text() == "ran"


def test_the_exit_status_follows_what_the_command_raised() -> None:
    from spanwise.cli._exit import exit_status

    assert exit_status(None) == 0
    assert exit_status(2) == 2
    assert exit_status(256 + 4) == 4  # what the operating system keeps of it


def test_only_the_command_that_asked_skips_the_teardown() -> None:
    """A request left by an earlier command run in the same process (as tests do) does
    not end the process when the console script's entry point runs another one."""
    import subprocess
    import sys

    code = (
        "from spanwise.cli import _exit, main\n"
        "_exit.skip_teardown()\n"
        "try:\n"
        "    main(['--version'])\n"
        "except SystemExit as exc:\n"
        "    print('returned', exc.code)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "returned 0"
