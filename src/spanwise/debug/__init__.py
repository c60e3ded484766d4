"""The debugging toolkit ("dev mode"): error reports with the failing frame's locals,
instrumented locks with deadlock and lock-order detection, state diffs and session logs.

Everything here records only in trace mode; otherwise the locks are plain locks and the
wrappers call straight through. Importing this package uses the standard library only.
"""

from __future__ import annotations

from typing import Any

from spanwise._setup import PIPELINE_EXTENSIONS
from spanwise.debug._asynclock import AsyncLock
from spanwise.debug._errors import capture_errors, capture_exception
from spanwise.debug._filelock import FileLock
from spanwise.debug._locks import Lock, RLock, instrument_lock
from spanwise.debug._state import track_state

__all__ = [
    "AsyncLock",
    "FileLock",
    "Lock",
    "RLock",
    "capture_errors",
    "capture_exception",
    "instrument_lock",
    "track_state",
]


def _pipeline_extension(settings: Any) -> Any:
    from spanwise.debug._session_log import extension

    return extension(settings)


if not any(getattr(f, "__module__", None) == __name__ for f in PIPELINE_EXTENSIONS):
    PIPELINE_EXTENSIONS.append(_pipeline_extension)
