"""A small pool of read-only store connections for request threads.

SQLite readers use their own ``mode=ro`` connections (WAL lets them read while the
writer writes); PostgreSQL readers are read-only sessions with a statement timeout.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator

from spanwise.store._database import Database, StoreError, open_database

DEFAULT_READERS = 4


class ReadPool:
    def __init__(self, url: str, size: int = DEFAULT_READERS) -> None:
        self.url = url
        self.size = size
        self._idle: queue.LifoQueue[Database] = queue.LifoQueue()
        self._created = 0
        self._lock = threading.Lock()
        self._closed = False

    @contextlib.contextmanager
    def connection(self) -> Iterator[Database]:
        db = self._acquire()
        broken = False
        try:
            yield db
        except StoreError:
            broken = True
            raise
        finally:
            self._release(db, broken)

    def _acquire(self) -> Database:
        while True:
            try:
                return self._idle.get_nowait()
            except queue.Empty:
                pass
            with self._lock:
                create = self._created < self.size
                if create:
                    self._created += 1
            if create:
                try:
                    return open_database(self.url, readonly=True)
                except BaseException:
                    with self._lock:
                        self._created -= 1
                    raise
            try:
                # Short waits: a slot freed by a broken reader is noticed on the next turn.
                return self._idle.get(timeout=0.2)
            except queue.Empty:
                continue

    def _release(self, db: Database, broken: bool) -> None:
        if broken or self._closed:
            # A reader that failed may hold a dead session: replace it on next use.
            with self._lock:
                self._created -= 1
            try:
                db.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail too
                pass
            return
        self._idle.put(db)

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                db = self._idle.get_nowait()
            except queue.Empty:
                return
            db.close()
