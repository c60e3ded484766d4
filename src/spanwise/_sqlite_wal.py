"""SQLite files that several processes share (the store, the embedding cache): WAL
connections, and retries while another process holds the file."""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

LOCK_RETRIES = 8


def is_locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


def back_off(attempt: int) -> None:
    """Wait before retry ``attempt`` (0-based): 10-20 ms, growing, jittered."""
    time.sleep(0.01 * (attempt + 1) * (1 + random.random()))


def connect_wal(path: Path, busy_timeout_ms: int) -> tuple[sqlite3.Connection, str]:
    """A read-write connection to ``path`` (created if missing), switched to WAL, with
    ``synchronous=NORMAL`` and a busy timeout, usable from any thread; and the journal
    mode the file is in (``wal`` unless its file system cannot share memory maps).

    Switching a new file to WAL needs it alone for a moment, and SQLite answers
    "database is locked" at once then, without waiting its busy timeout: processes that
    open a new file together are retried here rather than failing. Raises
    ``sqlite3.Error`` or ``OSError``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(LOCK_RETRIES):
        conn = sqlite3.connect(
            str(path),
            check_same_thread=False,
            isolation_level=None,
            timeout=busy_timeout_ms / 1000,
        )
        try:
            mode = str(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0])
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn, mode
        except sqlite3.OperationalError as exc:
            conn.close()
            if not is_locked(exc) or attempt == LOCK_RETRIES - 1:
                raise
        except BaseException:
            conn.close()
            raise
        back_off(attempt)
    raise AssertionError("unreachable: the last attempt returns or raises")
