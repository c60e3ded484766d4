"""Leaving the ``spanwise`` process without tearing its heap down object by object.

``spanwise run`` and ``spanwise plan`` load ``llm`` and its plugins, about a million
long-lived objects. When the command is done, the interpreter's own exit would free each
of them and clear every module (about 9 ms here, and more the more was loaded) before the
process ends, and the operating system reclaims the memory at once anyway. A command
that asks for it (``skip_teardown``) leaves through ``leave`` instead, which does what a
normal exit does that anyone can see: non-daemon threads are joined, ``atexit`` handlers
run (spanwise's own, and any a workflow's Python code registered), standard output and
error are flushed, and the exit status is the same. Only the console script does this
(``spanwise.cli.main``); a command invoked in-process (tests, ``CliRunner``) returns as
usual.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import Any

_requested = False


def skip_teardown() -> None:
    """The running command has nothing left that needs the interpreter's teardown."""
    global _requested
    _requested = True


def requested() -> bool:
    return _requested


def reset() -> None:
    """Forget an earlier command's request (one run in-process, then the console script)."""
    global _requested
    _requested = False


def exit_status(code: Any) -> int:
    """``SystemExit.code`` as the interpreter turns it into a status: None is 0, an int
    is itself, anything else is printed on stderr and gives 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        print(code, file=sys.stderr)
    except Exception:  # noqa: BLE001 - stderr closed: the status still stands
        pass
    return 1


def leave(code: Any) -> None:
    """End the process now, with ``code``'s status, after what a normal exit does that
    matters to the program: threads, ``atexit``, flushed output."""
    status = exit_status(code)
    shutdown_threads = getattr(threading, "_shutdown", None)
    if shutdown_threads is not None:
        shutdown_threads()  # joins non-daemon threads, as the interpreter would first
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:  # noqa: BLE001 - e.g. the reader closed the pipe
            status = status or 120  # the interpreter's status when flushing fails at exit
    os._exit(status)
