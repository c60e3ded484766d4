"""Test doubles shipped with spanwise: an in-memory exporter, a fake clock, deterministic
ids and the ``spanwise_recorder`` pytest fixture (registered as a pytest plugin)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

from spanwise._export import ExportResult


class InMemoryExporter:
    """Keeps every exported record in memory, in export order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records: list[Any] = []
        self.batches = 0
        self.shut_down = False

    def export(self, records: Sequence[Any]) -> ExportResult:
        with self._lock:
            self.records.extend(records)
            self.batches += 1
        return ExportResult.SUCCESS

    def force_flush(self, timeout: float | None = None) -> bool:
        return True

    def shutdown(self, timeout: float | None = None) -> None:
        self.shut_down = True

    @property
    def spans(self) -> list[Any]:
        with self._lock:
            return [r for r in self.records if r.record_type == "span"]

    def by_name(self, name: str) -> Any:
        """The one span called ``name``; AssertionError when there is not exactly one."""
        found = [s for s in self.spans if s.name == name]
        assert len(found) == 1, f"expected one span {name!r}, found {len(found)}"
        return found[0]

    def clear(self) -> None:
        with self._lock:
            self.records.clear()


class FakeClock:
    """A clock that moves only when told: ``clock.advance(ms=5)``."""

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self._now = 0
        self.epoch_offset_ns = start_ns

    def monotonic_ns(self) -> int:
        return self._now

    def advance(self, *, ns: int = 0, ms: float = 0, s: float = 0) -> None:
        self._now += ns + int(ms * 1e6) + int(s * 1e9)


class DeterministicIds:
    """Trace ids 1, 2, 3… and span ids 1, 2, 3… (thread-safe)."""

    def __init__(self) -> None:
        import itertools

        traces = itertools.count(1)
        spans = itertools.count(1)
        self.trace_id = traces.__next__
        self.span_id = spans.__next__


class Recorder:
    """What the ``spanwise_recorder`` fixture yields."""

    def __init__(self, exporter: InMemoryExporter) -> None:
        self.exporter = exporter

    @property
    def spans(self) -> list[Any]:
        import spanwise

        spanwise.flush()
        return self.exporter.spans

    def by_name(self, name: str) -> Any:
        import spanwise

        spanwise.flush()
        return self.exporter.by_name(name)


try:
    import pytest
except ImportError:  # pragma: no cover - the fixture needs pytest, the doubles do not
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def spanwise_recorder(tmp_path: Any) -> Iterator[Recorder]:
        """spanwise in trace mode for one test, recording into memory, deterministic ids."""
        import spanwise

        exporter = InMemoryExporter()
        spanwise.configure(
            "trace", home=tmp_path / "spanwise-home", exporters=[exporter], ids=DeterministicIds()
        )
        try:
            yield Recorder(exporter)
        finally:
            spanwise.configure("off")
