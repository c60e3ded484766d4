"""The exporter and processor protocols every sink and enrichment step follows."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import Any, Protocol


class ExportResult(enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"


# An exporter that keeps counters of its own (the OTLP sink, which sends from a thread of
# its own) has ``stats()`` -> {"endpoint", "sent", "buffered", "dropped": {reason: n}},
# with these reasons; the store keeps them per process run (``exporter_stats``).
EXPORTER_DROP_REASONS = ("buffer_full", "rejected", "retries_exhausted", "shutdown")


class Exporter(Protocol):
    """Takes batches of ended records on the writer thread and returns a result."""

    def export(self, records: Sequence[Any]) -> ExportResult: ...

    def force_flush(self, timeout: float | None = None) -> bool: ...

    def shutdown(self, timeout: float | None = None) -> None: ...


# A processor gets one ended record and returns it (possibly enriched) or None to drop it.
# Processors run on the writer thread and must not block.
Processor = Callable[[Any], Any]
