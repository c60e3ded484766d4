"""``events.jsonl`` of a session (see ``_session_log``): every record on a line of its own,
a batch of lock acquisitions as one line per event."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from spanwise._export import ExportResult
from spanwise.exporters.jsonl import JsonlExporter


class _Line:
    """One lock event as a record of its own, for the JSONL writer (a ``LockBatch``
    stands for many)."""

    __slots__ = ("data",)
    record_type = "lock_event"

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        return self.data


class SessionLog(JsonlExporter):
    """``events.jsonl`` of one session."""

    def export(self, records: Sequence[Any]) -> ExportResult:
        lines: list[Any] = []
        for record in records:
            if record.record_type == "lock_event":
                lines.extend(_Line(e) for e in record.events())
            else:
                lines.append(record)
        return super().export(lines)
