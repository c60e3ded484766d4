"""Large strings (prompts, responses, snapshots) stored once per content hash."""

from __future__ import annotations

from typing import Any

from spanwise.store._json import dumps

MAX_BLOB_CHARS = 1_000_000


def content_text(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else dumps(value)
    if len(text) > MAX_BLOB_CHARS:
        text = text[:MAX_BLOB_CHARS] + f"…[truncated {len(text) - MAX_BLOB_CHARS} chars]"
    return text


def content_hash(text: str) -> str:
    """The SHA-256 of ``text`` (UTF-8), in hex. ``hashlib`` is imported on first use: it
    loads OpenSSL (about 4 ms), and most runs store no text large enough to hash."""
    from hashlib import sha256

    return sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class BlobBatch:
    """Collects blobs for one transaction; each distinct content once."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, int, str]] = {}

    def add(self, value: Any) -> str | None:
        text = content_text(value)
        if text is None:
            return None
        digest = content_hash(text)
        if digest not in self.rows:
            self.rows[digest] = (digest, len(text), text)
        return digest

    def write(self, cur: Any, placeholder: str = "?") -> None:
        if self.rows:
            p = placeholder
            cur.executemany(
                f"INSERT INTO blobs (hash, size, content) VALUES ({p}, {p}, {p}) "
                "ON CONFLICT (hash) DO NOTHING",
                # Sorted: concurrent writers lock rows in one order (no PostgreSQL deadlock).
                sorted(self.rows.values()),
            )
