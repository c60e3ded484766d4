"""JSON Lines: one record per line, appended, flushed per batch (no fsync).

A process killed mid-write leaves at most one partial last line; ``read_jsonl`` skips
and counts it and never fails.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spanwise._export import ExportResult
from spanwise._serialize import record_to_dict
from spanwise.store._json import dumps


class JsonlExporter:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._file: Any = None

    def _open(self) -> Any:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        return self._file

    def export(self, records: Sequence[Any]) -> ExportResult:
        lines = "".join(dumps(record_to_dict(r)) + "\n" for r in records)
        with self._lock:
            f = self._open()
            f.write(lines)
            f.flush()
        return ExportResult.SUCCESS

    def force_flush(self, timeout: float | None = None) -> bool:
        with self._lock:
            if self._file is not None:
                self._file.flush()
        return True

    def shutdown(self, timeout: float | None = None) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        self._file = None  # the child opens its own handle (append mode keeps lines whole)


@dataclass
class JsonlReadStats:
    lines: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)


def read_jsonl(
    path: str | os.PathLike[str], stats: JsonlReadStats | None = None
) -> Iterator[dict[str, Any]]:
    """Yield each complete JSON object; a torn or garbled line is skipped and counted."""
    stats = stats if stats is not None else JsonlReadStats()
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
            except ValueError:
                stats.skipped += 1
                stats.errors.append(f"line {number}: not a complete JSON object")
                continue
            if isinstance(value, dict):
                stats.lines += 1
                yield value
            else:
                stats.skipped += 1
