"""PostgreSQL: the team store. Same schema and migrations as SQLite; several programs and
server processes may share one database.

SQL elsewhere is written with ``?`` placeholders; ``query``/``query_dicts`` translate them
to psycopg's ``%s``. Write transactions (``transaction()``) hand out a psycopg cursor, so
writers use ``%s`` directly (the store exporter passes them that placeholder).
"""

from __future__ import annotations

import contextlib
import re
import threading
import zlib
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from spanwise.store._database import StoreError
from spanwise.store._schema import MIGRATIONS, statements_for

# One key for "spanwise migrations" in pg_advisory_xact_lock: processes that start
# together queue on it, so each migration is applied exactly once.
MIGRATION_LOCK_KEY = zlib.crc32(b"spanwise.schema_migrations")
READ_STATEMENT_TIMEOUT_MS = 60_000
CONNECT_TIMEOUT_S = 10


def redact_url(url: str) -> str:
    """The URL without its password, for messages and the health page."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "postgresql://…"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))


def to_pyformat(sql: str) -> str:
    """``?`` placeholders → ``%s``; a literal ``%`` is doubled so psycopg keeps it."""
    return sql.replace("%", "%%").replace("?", "%s")


# A plain multi-row INSERT (no ON CONFLICT, no RETURNING, placeholders only) can be sent
# as COPY: the same rows, about three times faster than one statement per row.
_PLAIN_INSERT = re.compile(
    r"^\s*INSERT\s+INTO\s+(\w+)\s*\(([\w\s,]+)\)\s*VALUES\s*\(\s*%s(?:\s*,\s*%s)*\s*\)\s*$",
    re.IGNORECASE,
)
COPY_MIN_ROWS = 8


class BulkCursor:
    """The psycopg cursor of a write transaction, with ``executemany`` of plain inserts
    done through COPY. Everything else is the cursor's own."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> Any:
        rows = params_seq if isinstance(params_seq, list) else list(params_seq)
        match = _PLAIN_INSERT.match(query) if isinstance(query, str) else None
        if match is None or kwargs or len(rows) < COPY_MIN_ROWS:
            return self._cursor.executemany(query, rows, **kwargs)
        table, columns = match.group(1), match.group(2)
        width = len(columns.split(","))
        if query.count("%s") != width or any(len(row) != width for row in rows):
            return self._cursor.executemany(query, rows)
        with self._cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class PostgresDatabase:
    dialect = "postgresql"

    def __init__(self, url: str, *, readonly: bool = False, migrate: bool = True) -> None:
        self.url = url
        self.readonly = readonly
        self._lock = threading.RLock()
        self._conn = self._connect()
        try:
            if migrate and not readonly:
                self.migrate()
            elif readonly:
                self._require_schema()
        except BaseException:
            self._conn.close()
            raise

    def _connect(self) -> Any:
        import psycopg

        conn = None
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
            conn.adapters.register_loader("numeric", _numeric_loader())
            if self.readonly:
                conn.execute("SET default_transaction_read_only = on")
                conn.execute(f"SET statement_timeout = {READ_STATEMENT_TIMEOUT_MS}")
        except psycopg.Error as exc:
            if conn is not None:
                conn.close()
            raise StoreError(
                f"cannot connect to {redact_url(self.url)}: {_first_line(exc)}"
            ) from None
        return conn

    def _require_schema(self) -> None:
        rows = self.query("SELECT to_regclass('traces') IS NOT NULL")
        if not rows or not rows[0][0]:
            raise StoreError(
                f"no spanwise tables in {redact_url(self.url)} (nothing has been recorded yet)"
            )

    # -- writes ------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """One write transaction; commits on success, rolls back on any exception."""
        import psycopg

        with self._lock:
            try:
                with self._conn.transaction(), self._conn.cursor() as cur:
                    yield BulkCursor(cur)
            except psycopg.OperationalError as exc:
                if self._conn.closed:
                    # The server went away: reconnect for the next batch, fail this one.
                    self._reconnect()
                raise StoreError(
                    f"cannot write to {redact_url(self.url)}: {_first_line(exc)}"
                ) from exc

    def _reconnect(self) -> None:
        try:
            self._conn = self._connect()
        except StoreError:
            pass

    def migrate(self) -> list[str]:
        """Apply pending migrations under an advisory lock (safe when several start)."""
        import psycopg

        applied: list[str] = []
        try:
            with self.transaction() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
                cur.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations "
                    "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
                )
                cur.execute("SELECT name FROM schema_migrations")
                done = {row[0] for row in cur.fetchall()}
                for migration in MIGRATIONS:
                    if migration.name in done:
                        continue
                    for stmt in statements_for(migration, self.dialect):
                        cur.execute(stmt)
                    cur.execute(
                        "INSERT INTO schema_migrations (name, applied_at) "
                        "VALUES (%s, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'))",
                        (migration.name,),
                    )
                    applied.append(migration.name)
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot prepare store {redact_url(self.url)}: {_first_line(exc)}"
            ) from None
        return applied

    # -- reads -------------------------------------------------------------------------
    def _execute(self, sql: str, params: Sequence[Any]) -> Any:
        import psycopg

        try:
            return self._conn.execute(to_pyformat(sql), tuple(params))
        except psycopg.OperationalError as exc:
            if self._conn.closed:
                self._reconnect()
            raise StoreError(f"cannot read {redact_url(self.url)}: {_first_line(exc)}") from None
        except psycopg.Error as exc:
            raise StoreError(f"cannot read {redact_url(self.url)}: {_first_line(exc)}") from None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            cur = self._execute(sql, params)
            return list(cur.fetchall()) if cur.description else []

    def query_dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            cur = self._execute(sql, params)
            if not cur.description:
                return []
            names = [d.name for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def size_bytes(self) -> int:
        rows = self.query("SELECT pg_database_size(current_database())")
        return int(rows[0][0]) if rows else 0

    def abandon_in_child(self) -> None:
        """Forget the connection without closing it. After fork the socket is shared with
        the parent; closing it here would end the parent's session."""
        _ORPHANS.append(self._conn)
        self._abandoned = True

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __del__(self) -> None:
        # Views open a store and let it go; end the session quietly when that happens
        # (never for a connection abandoned after fork: it is the parent's).
        conn = getattr(self, "_conn", None)
        if conn is not None and not getattr(self, "_abandoned", False) and not conn.closed:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - nothing to do about it at collection time
                pass


_ORPHANS: list[Any] = []
_LOADER: Any = None


def _numeric_loader() -> Any:
    """NUMERIC (what SUM over BIGINT returns) read as int when whole, else float, so
    results look the same as SQLite's and serialize to JSON numbers."""
    global _LOADER
    if _LOADER is None:
        from psycopg.adapt import Loader

        class NumericLoader(Loader):
            def load(self, data: Any) -> Any:
                text = bytes(data).decode("ascii")
                if text.lstrip("-").isdigit():
                    return int(text)
                return float(text)

        _LOADER = NumericLoader
    return _LOADER
