"""SQLite: WAL, ``BEGIN IMMEDIATE`` writes with a busy timeout, migrations applied once."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from spanwise._sqlite_wal import LOCK_RETRIES, back_off, connect_wal, is_locked
from spanwise.store._database import StoreError
from spanwise.store._schema import MIGRATIONS, statements_for

BUSY_TIMEOUT_MS = 10_000
# A C function that returns None whatever it is given.
_AS_NULL: Callable[[Any], None] = {}.get


def bind_none_directly() -> None:
    """Have sqlite3 bind None as NULL without its adapter search.

    Python's sqlite3 sends every parameter that is not an int, float, str or bytearray
    through its registry of adapters, and for None that search ends in an AttributeError
    it formats and then clears: about 3,000 instructions per value, where the rows of
    spans and LLM calls have several NULL columns each. With an adapter registered for
    NoneType the search ends at once; the adapter gives None back, which binds as NULL,
    so only the cost changes. The registry is process-wide: one registered by the
    program is left as it is."""
    if (type(None), sqlite3.PrepareProtocol) not in sqlite3.adapters:
        sqlite3.register_adapter(type(None), _AS_NULL)


bind_none_directly()


class SQLiteDatabase:
    dialect = "sqlite"

    def __init__(self, url: str, *, readonly: bool = False, migrate: bool = True) -> None:
        self.url = url
        self.path = Path(url[len("sqlite://") :])
        self.readonly = readonly
        self._conn = self._connect()
        if migrate and not readonly:
            self.migrate()

    def _connect(self) -> sqlite3.Connection:
        try:
            if not self.readonly:
                conn, mode = connect_wal(self.path, BUSY_TIMEOUT_MS)
                if mode != "wal":
                    conn.close()
                    raise StoreError(f"cannot use WAL on {self.path} (journal mode {mode})")
                return conn
            if not self.path.exists():
                raise StoreError(f"no store at {self.path} (nothing has been recorded yet)")
            conn = sqlite3.connect(
                f"file:{self.path}?mode=ro",
                uri=True,
                check_same_thread=False,
                isolation_level=None,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}") from None
        except OSError as exc:
            raise StoreError(f"cannot open store {self.path}: {exc.strerror or exc}") from None
        return conn

    # -- writes ------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        """A write transaction taken with BEGIN IMMEDIATE; retried while the file is busy."""
        conn = self._conn
        for attempt in range(LOCK_RETRIES):
            try:
                conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if not is_locked(exc) or attempt == LOCK_RETRIES - 1:
                    raise
                back_off(attempt)
        cur = conn.cursor()
        try:
            yield cur
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def migrate(self) -> list[str]:
        try:
            with self.transaction() as cur:
                cur.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations "
                    "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
                )
                done = {row[0] for row in cur.execute("SELECT name FROM schema_migrations")}
                applied = []
                for migration in MIGRATIONS:
                    if migration.name in done:
                        continue
                    for stmt in statements_for(migration, self.dialect):
                        cur.execute(stmt)
                    cur.execute(
                        "INSERT INTO schema_migrations (name, applied_at) "
                        "VALUES (?, datetime('now'))",
                        (migration.name,),
                    )
                    applied.append(migration.name)
                return applied
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot prepare store {self.path}: {exc}") from None

    # -- reads -------------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot read store {self.path}: {exc}") from None

    def query_dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        try:
            cur = self._conn.execute(sql, params)
            names = [d[0] for d in cur.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot read store {self.path}: {exc}") from None

    def size_bytes(self) -> int:
        total = 0
        for suffix in ("", "-wal", "-shm"):
            try:
                total += Path(str(self.path) + suffix).stat().st_size
            except OSError:
                pass
        return total

    def abandon_in_child(self) -> None:
        """Forget the connection without closing it. Used after fork: closing the
        parent's connection in the child would drop the POSIX locks that the child's own
        new connection relies on."""
        _ORPHANS.append(self._conn)

    def close(self) -> None:
        self._conn.close()


_ORPHANS: list[sqlite3.Connection] = []
