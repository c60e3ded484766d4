"""A small database seam shared by the SQLite and PostgreSQL stores.

SQL is written once with ``?`` placeholders; each dialect adapts it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, Protocol


class StoreError(RuntimeError):
    """The store cannot be used (missing, read-only, corrupt, unreachable); one-line message."""


class Database(Protocol):
    dialect: str
    url: str

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def query_dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...

    def transaction(self) -> contextlib.AbstractContextManager[Any]: ...

    def close(self) -> None: ...


def open_database(url: str, *, readonly: bool = False, migrate: bool = True) -> Database:
    """Open the store at ``url`` (``sqlite:///path`` or ``postgresql://…``)."""
    if url.startswith("sqlite://"):
        from spanwise.store._sqlite import SQLiteDatabase

        return SQLiteDatabase(url, readonly=readonly, migrate=migrate)
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from spanwise.store._postgres import PostgresDatabase  # type: ignore[import-not-found]
        except ImportError:
            raise StoreError(
                "the PostgreSQL store needs: pip install 'spanwise[postgres]'"
            ) from None
        db: Database = PostgresDatabase(url, readonly=readonly, migrate=migrate)
        return db
    raise StoreError(f"unsupported store URL {url!r}")


@contextlib.contextmanager
def cursor_rows(cur: Any) -> Iterator[list[tuple[Any, ...]]]:
    yield list(cur.fetchall())
