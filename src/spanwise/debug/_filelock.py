"""``spanwise.FileLock(path)``: a lock between processes (and threads) on one machine.

It is an OS lock (``fcntl.flock`` on the lock file), so the kernel frees it when the
holder's process dies: it can never be broken by age while its holder lives. The holder
writes who it is (pid, host, thread, trace id, operation, since) into the lock file and
clears it on release. An acquirer that finds that record still there knows the previous
holder died holding the lock: its ``acquired`` event says ``recovered`` and names the
dead holder. Each acquisition opens its own descriptor, so threads of one process
exclude each other too; a thread may re-enter a lock it holds. The lock file is never
deleted (deleting lock files races with acquirers). Limits: a child forked while the lock
is held shares its descriptor (release it in one process only); a holder that dies
between taking the lock and writing its record is not reported as recovered; deadlocks
are detected among the locks of one process, not across processes."""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from spanwise import _internal
from spanwise._runtime import RT
from spanwise._span import current
from spanwise.debug._deadlock import CHECK_INTERVAL_S, HELD, WAITING, Wait, check, emit_event
from spanwise.debug._locks import forget_held, note_held
from spanwise.debug._records import PARTY, SPAN, span_ids

logger = logging.getLogger("spanwise.locks")

MIN_POLL_S = 0.001
MAX_POLL_S = 0.05
_SEQ = itertools.count(1)


def _pid_alive(pid: Any) -> bool | None:
    if not isinstance(pid, int) or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


class FileLock:
    """``with spanwise.FileLock("state.json.lock"):`` — exclusive across processes."""

    kind = "file"
    reentrant = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        name: str | None = None,
        *,
        poll_interval: float = MAX_POLL_S,
    ) -> None:
        if not str(path):
            raise ValueError("FileLock needs a path")
        self.path = Path(path)
        self.name = name or str(path)
        self.poll_interval = max(MIN_POLL_S, float(poll_interval))
        self._hold: tuple[Any, ...] | None = None  # as for thread locks
        self._fd: int | None = None
        self._depth = 0
        self._acquisition = ""

    @property
    def _owner(self) -> int | None:
        hold = self._hold
        return None if hold is None else hold[PARTY]

    # -- public -------------------------------------------------------------------------
    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        ident = threading.get_ident()
        if self._owner == ident:
            self._depth += 1
            return True
        if timeout != -1 and not blocking:
            raise ValueError("can't specify a timeout for a non-blocking call")
        rt = RT
        req = rt.perf()
        span = current.get()
        common = self._common(span, f"{os.getpid()}:f{next(_SEQ)}")
        traced = bool(common)
        held: list[Any] = HELD.setdefault(ident, []) if traced else []
        if traced:
            note_held(self, held)  # the order counts when asked for, even if never granted
        fd = self._open()
        got = False
        try:
            got = self._try(fd)
            if not got:
                holder = _read_holder(fd)
                emit_event(
                    event="requested",
                    time_ns=req + rt.offset,
                    details={"holder": holder} if holder else None,
                    **common,
                )
                if blocking:
                    got = self._wait(fd, req, timeout, span, common, traced)
            else:
                emit_event(event="requested", time_ns=req + rt.offset, **common)
        except BaseException:
            os.close(fd)
            now = rt.perf()
            emit_event(event="cancelled", wait_ns=now - req, time_ns=now + rt.offset, **common)
            raise
        now = rt.perf()
        if not got:
            os.close(fd)
            emit_event(event="timeout", wait_ns=now - req, time_ns=now + rt.offset, **common)
            return False
        details = self._take(fd, span)
        self._hold, self._fd, self._depth = (now, ident, span, True, req), fd, 1
        self._acquisition = common.get("acquisition", "")
        emit_event(
            event="acquired",
            wait_ns=now - req,
            time_ns=now + rt.offset,
            details=details,
            level="warning" if details else "info",
            **common,
        )
        if traced:
            held.append(self)
        return True

    def release(self) -> None:
        if self._owner != threading.get_ident():
            raise RuntimeError("cannot release un-acquired lock")
        if self._depth > 1:
            self._depth -= 1
            return
        rt = RT
        fd, hold = self._fd, self._hold
        assert fd is not None and hold is not None
        acq, ident, span = hold[0], hold[PARTY], hold[SPAN]
        common = self._common(span, self._acquisition)
        self._hold, self._fd, self._depth = None, None, 0
        forget_held(ident, self)
        try:
            os.ftruncate(fd, 0)  # cleared before unlocking: a clean release leaves no holder
        except OSError as exc:
            _internal.report("filelock.clear", exc)
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        now = rt.perf()
        emit_event(event="released", hold_ns=now - acq, time_ns=now + rt.offset, **common)

    def locked(self) -> bool:
        """True when some process (or thread) holds the lock right now."""
        import fcntl

        if self._owner is not None:
            return True
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)  # closing drops a lock we may just have taken
        return False

    def holder(self) -> dict[str, Any] | None:
        """What the current holder wrote into the lock file (None when free)."""
        fd = self._open()
        try:
            return _read_holder(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<spanwise.FileLock {str(self.path)!r}>"

    # -- internals ----------------------------------------------------------------------
    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)

    @staticmethod
    def _try(fd: int) -> bool:
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _common(self, span: Any, acquisition: str) -> dict[str, Any]:
        if RT.mode != "trace":
            return {}
        trace_id, span_id = span_ids(span)
        return {
            "lock_name": self.name,
            "kind": self.kind,
            "trace_id": trace_id,
            "span_id": span_id,
            "thread": threading.current_thread().name,
            "operation": span.name if trace_id else None,
            "acquisition": acquisition,
        }

    def _wait(
        self, fd: int, req: int, timeout: float, span: Any, common: dict[str, Any], traced: bool
    ) -> bool:
        rt = RT
        ident = threading.get_ident()
        deadline = None if timeout < 0 else req + int(timeout * 1e9)
        if traced:
            WAITING[ident] = Wait(self, span, req, common.get("operation"))
        pause = MIN_POLL_S
        next_check = req + int(CHECK_INTERVAL_S * 1e9)
        try:
            while True:
                now = rt.perf()
                if deadline is not None and now >= deadline:
                    return False
                if traced and now >= next_check:
                    check(ident)
                    next_check = now + int(CHECK_INTERVAL_S * 1e9)
                left = (deadline - now) / 1e9 if deadline is not None else pause
                time.sleep(max(0.0, min(pause, left)))
                if self._try(fd):
                    return True
                pause = min(pause * 2, self.poll_interval)
        finally:
            WAITING.pop(ident, None)

    def _take(self, fd: int, span: Any) -> dict[str, Any] | None:
        """Claim the lock file; returns the recovery details when a dead holder left its
        record behind."""
        details = None
        previous = _read_holder(fd)
        if previous:
            alive = _pid_alive(previous.get("pid")) if previous.get("host") == _HOST else None
            details = {
                "recovered": True,
                "previous_holder": previous,
                "previous_holder_alive": alive,
            }
            if RT.mode == "trace":
                logger.warning(
                    "spanwise: file lock %s recovered: its holder (pid %s, %s) ended without "
                    "releasing it",
                    self.name,
                    previous.get("pid"),
                    previous.get("operation") or previous.get("thread"),
                )
        trace_id, _ = span_ids(span)
        record = {
            "pid": os.getpid(),
            "host": _HOST,
            "thread": threading.current_thread().name,
            "trace_id": trace_id,
            "operation": span.name if trace_id else None,
            "since_ns": RT.now_ns(),
            "lock": self.name,
        }
        try:
            import json

            data = json.dumps(record).encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
        except (OSError, TypeError, ValueError) as exc:
            _internal.report("filelock.write_holder", exc)
        return details


_HOST = os.uname().nodename


def _read_holder(fd: int) -> dict[str, Any] | None:
    try:
        raw = os.pread(fd, 8192, 0)
    except OSError:
        return None
    if not raw.strip():
        return None
    import json

    try:
        value = json.loads(raw)
    except ValueError:
        return {"raw": raw[:200].decode("utf-8", "replace")}
    return value if isinstance(value, dict) else {"raw": str(value)[:200]}
