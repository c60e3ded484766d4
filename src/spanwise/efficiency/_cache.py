"""A persistent embedding cache in SQLite, shared by every process on the machine.

File: ``SPANWISE_HOME/embeddings.db`` by default (separate from the span store, so the
store can be pruned or moved to PostgreSQL without losing paid-for embeddings).

- Key: (path, SHA-256 of the *full* content, model, dimensions). Editing a file changes
  its hash, so the old vector is never returned; a different model or dimension count
  never shares vectors.
- Bounded: at most ``max_entries`` vectors (default 20,000: ~30 MB at 384 dimensions,
  ~120 MB at 1,536); the least recently used go first. A hit refreshes the entry's
  ``last_used_ns`` when it is more than a minute old, so warm lookups rarely write.
- Counted: hits, misses, stores and evictions for this cache object (``stats()``), and
  the same totals for the file across processes (``lifetime``; each process adds its
  counts at least once a minute, on every store, and in ``stats()`` and ``close()``).
- Safe across processes: WAL, ``BEGIN IMMEDIATE`` writes, a busy timeout.

Vectors are stored as little-endian float32 (4 bytes per dimension).
"""

from __future__ import annotations

import array
import hashlib
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from spanwise._sqlite_wal import connect_wal

DEFAULT_MAX_ENTRIES = 20_000
TOUCH_INTERVAL_NS = 60_000_000_000  # LRU order is kept to the minute
BUSY_TIMEOUT_MS = 10_000
_CHUNK = 500

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS embeddings (
        key TEXT PRIMARY KEY,
        path TEXT NOT NULL,
        content_sha256 TEXT NOT NULL,
        model TEXT NOT NULL,
        dimensions INTEGER NOT NULL,
        vector BLOB NOT NULL,
        created_ns INTEGER NOT NULL,
        last_used_ns INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS embeddings_lru ON embeddings(last_used_ns)",
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)
_COUNTERS = ("hits", "misses", "stores", "evictions")


class CacheKey(NamedTuple):
    path: str
    content_sha256: str
    model: str
    dimensions: int

    @property
    def digest(self) -> str:
        raw = f"{self.path}\0{self.content_sha256}\0{self.model}\0{self.dimensions}"
        return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def content_sha256(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()


def cache_key(path: str, content: str, model: str, dimensions: int = 0) -> CacheKey:
    """The key of ``content`` at ``path`` embedded by ``model`` (0 dimensions: model default)."""
    return CacheKey(path, content_sha256(content), model, dimensions)


def _pack(vector: Sequence[float]) -> bytes:
    data = array.array("f", vector)
    if sys.byteorder != "little":
        data.byteswap()
    return data.tobytes()


def _unpack(blob: bytes) -> array.array[float]:
    data = array.array("f")
    data.frombytes(blob)
    if sys.byteorder != "little":
        data.byteswap()
    return data


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    stores: int
    evictions: int
    size: int
    max_entries: int
    lifetime: dict[str, int]

    @property
    def hit_rate(self) -> float | None:
        looked = self.hits + self.misses
        return self.hits / looked if looked else None


class EmbeddingCache:
    """Vectors by (path, content hash, model, dimensions), least recently used out."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], int] = time.time_ns,
        touch_interval_ns: int = TOUCH_INTERVAL_NS,
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, not {max_entries!r}")
        self.path = Path(path)
        self.max_entries = max_entries
        self.touch_interval_ns = touch_interval_ns
        self._clock = clock
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self.hits = self.misses = self.stores = self.evictions = 0
        self._pending = dict.fromkeys(_COUNTERS, 0)
        self._flushed_ns = clock()

    # -- connection --------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        conn = self._conn
        if conn is not None and self._pid == os.getpid():
            return conn
        # A connection inherited through fork is left alone: closing it would drop the
        # parent's POSIX locks. The parent's unflushed counts are the parent's to write.
        if conn is not None:
            self._pending = dict.fromkeys(_COUNTERS, 0)
        conn, _ = connect_wal(self.path, BUSY_TIMEOUT_MS)  # another journal mode works too
        with _write(conn):
            for stmt in _SCHEMA:
                conn.execute(stmt)
        self._conn, self._pid = conn, os.getpid()
        return conn

    # -- reads and writes ----------------------------------------------------------------
    def get_many(self, keys: Sequence[CacheKey]) -> dict[CacheKey, array.array[float]]:
        """The cached vectors among ``keys`` (float32 arrays, each a sequence of floats).

        Counts hits and misses and refreshes the LRU position of hits (at most once per
        ``touch_interval_ns`` per entry, so warm lookups rarely write).
        """
        if not keys:
            return {}
        by_digest = {k.digest: k for k in keys}
        found: dict[CacheKey, array.array[float]] = {}
        stale: list[str] = []
        with self._lock:
            conn = self._connection()
            digests = list(by_digest)
            now = self._clock()
            oldest_fresh = now - self.touch_interval_ns
            # Reads need no write lock (WAL); a write happens only to refresh stale LRU
            # positions or to flush the lifetime counters, at most once a minute.
            for chunk in _chunks(digests):
                marks = ",".join("?" * len(chunk))
                for digest, blob, last_used in conn.execute(
                    f"SELECT key, vector, last_used_ns FROM embeddings WHERE key IN ({marks})",
                    chunk,
                ):
                    found[by_digest[digest]] = _unpack(blob)
                    if last_used < oldest_fresh:
                        stale.append(digest)
            hits, misses = len(found), len(by_digest) - len(found)
            self.hits += hits
            self.misses += misses
            self._pending["hits"] += hits
            self._pending["misses"] += misses
            if stale or self._flushed_ns < oldest_fresh:
                with _write(conn):
                    for chunk in _chunks(stale):
                        marks = ",".join("?" * len(chunk))
                        conn.execute(
                            f"UPDATE embeddings SET last_used_ns = ? WHERE key IN ({marks})",
                            [now, *chunk],
                        )
                    self._flush_counters(conn, now)
        return found

    def get(self, key: CacheKey) -> list[float] | None:
        """One vector as a list, or None."""
        found = self.get_many([key]).get(key)
        return None if found is None else found.tolist()

    def put_many(self, items: Sequence[tuple[CacheKey, Sequence[float]]]) -> None:
        """Store vectors (replacing any under the same key), then evict down to the bound."""
        if not items:
            return
        with self._lock:
            conn = self._connection()
            now = self._clock()
            rows = [
                (k.digest, k.path, k.content_sha256, k.model, k.dimensions, _pack(v), now, now)
                for k, v in items
            ]
            with _write(conn):
                conn.executemany(
                    "INSERT OR REPLACE INTO embeddings (key, path, content_sha256, model, "
                    "dimensions, vector, created_ns, last_used_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                size = conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
                excess = max(0, size - self.max_entries)
                if excess:
                    conn.execute(
                        "DELETE FROM embeddings WHERE key IN (SELECT key FROM embeddings "
                        "ORDER BY last_used_ns, rowid LIMIT ?)",
                        (excess,),
                    )
                self._pending["stores"] += len(rows)
                self._pending["evictions"] += excess
                self._flush_counters(conn, now)
            self.stores += len(rows)
            self.evictions += excess

    def _flush_counters(self, conn: sqlite3.Connection, now: int) -> None:
        """Add the pending counts to the file's lifetime totals (inside a write)."""
        _bump(conn, **self._pending)
        self._pending = dict.fromkeys(_COUNTERS, 0)
        self._flushed_ns = now

    def put(self, key: CacheKey, vector: Sequence[float]) -> None:
        self.put_many([(key, vector)])

    # -- inspection ----------------------------------------------------------------------
    def stats(self) -> CacheStats:
        """This object's counts, the entries in the file, and the file's lifetime totals."""
        with self._lock:
            conn = self._connection()
            if any(self._pending.values()):
                with _write(conn):
                    self._flush_counters(conn, self._clock())
            size = conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
            lifetime = dict.fromkeys(_COUNTERS, 0)
            for name, value in conn.execute("SELECT name, value FROM counters"):
                lifetime[name] = value
            return CacheStats(
                self.hits,
                self.misses,
                self.stores,
                self.evictions,
                size,
                self.max_entries,
                lifetime,
            )

    def clear(self) -> None:
        with self._lock:
            conn = self._connection()
            with _write(conn):
                conn.execute("DELETE FROM embeddings")

    def close(self) -> None:
        """Flush the lifetime counters and close the connection."""
        with self._lock:
            conn = self._conn
            if conn is not None and self._pid == os.getpid():
                if any(self._pending.values()):
                    with _write(conn):
                        self._flush_counters(conn, self._clock())
                conn.close()
            self._conn = None


class _write:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (rolled back on error)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.conn.execute("ROLLBACK" if exc_type is not None else "COMMIT")


def _bump(conn: sqlite3.Connection, **deltas: int) -> None:
    rows = [(name, value) for name, value in deltas.items() if value]
    if rows:
        conn.executemany(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            rows,
        )


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


_DEFAULTS: dict[Path, EmbeddingCache] = {}
_DEFAULTS_LOCK = threading.Lock()


def default_cache_path() -> Path:
    from spanwise._runtime import RT
    from spanwise._settings import home_dir

    settings = RT.settings
    home = settings.home if settings is not None else home_dir()
    return Path(home) / "embeddings.db"


def default_cache() -> EmbeddingCache:
    """The process-wide cache at ``SPANWISE_HOME/embeddings.db`` (opened on first use)."""
    path = default_cache_path()
    with _DEFAULTS_LOCK:
        found = _DEFAULTS.get(path)
        if found is None:
            found = _DEFAULTS[path] = EmbeddingCache(path)
        return found
