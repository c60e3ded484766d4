"""The exporter and processor protocols every sink and enrichment step follows."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import Any, Protocol


class ExportResult(enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"


class Exporter(Protocol):
    """Takes batches of ended records on the writer thread and returns a result."""

    def export(self, records: Sequence[Any]) -> ExportResult: ...

    def force_flush(self, timeout: float | None = None) -> bool: ...

    def shutdown(self, timeout: float | None = None) -> None: ...


# A processor gets one ended record and returns it (possibly enriched) or None to drop it.
# Processors run on the writer thread and must not block.
Processor = Callable[[Any], Any]
