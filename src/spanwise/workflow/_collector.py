"""``RunCollector``: what one execution did — phases (planner, workflow), every node's
event, and every LLM call, attributed to the node (or phase) it happened under.

Node events arrive synchronously from the instrumented nodes. LLM calls arrive as ended
``llm`` spans, handed over in the thread that ends them (``spanwise._setup.tap``) before
the pipeline gets them: the trace file and the metrics are views of the same records the
store gets, and building them never waits for the writer. Attribution walks each call's
parents up to the nearest node or phase span of this run.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from spanwise import _internal
from spanwise._span import Span
from spanwise.workflow._wrappers import NodeEvent, open_span

MAX_PARENT_WALK = 256


@dataclass
class Phase:
    name: str
    span_id: int = 0
    start: int = 0
    end: int | None = None

    def duration_ns(self, now: int) -> int:
        return (self.end if self.end is not None else now) - self.start


@dataclass
class CallRecord:
    """One LLM call of this run and where it happened."""

    span: Any
    phase: str
    event: NodeEvent | None

    @property
    def call(self) -> Any:
        return self.span.llm


class RunCollector:
    """Collects one execution. ``tracing`` also keeps params, outputs and store diffs."""

    def __init__(
        self,
        *,
        tracing: bool = False,
        clock: Callable[[], int] = time.perf_counter_ns,
        wall: Callable[[], datetime] = datetime.now,
        new_id: Callable[[], uuid.UUID] = uuid.uuid4,
    ) -> None:
        self.tracing = tracing
        self.emit_spans = True
        self.clock = clock
        self.execution_id = str(new_id())
        self.started = clock()
        self.started_at = wall()
        self.finished: int | None = None
        self.phase = "workflow"
        self.phases: dict[str, Phase] = {}
        self.events: list[NodeEvent] = []
        self.trace_id = 0
        self._lock = threading.Lock()
        self._parents: dict[int, int] = {}
        self._llm_spans: list[Any] = []

    # -- phases and nodes (the program's thread) -------------------------------------------
    @contextmanager
    def phase_span(
        self, phase: str, span_name: str, kind: str, attributes: dict[str, Any] | None = None
    ) -> Iterator[Span]:
        """Run a phase (``planner`` or ``workflow``) inside its own span."""
        record = self.phases[phase] = Phase(phase, start=self.clock())
        previous, self.phase = self.phase, phase
        try:
            with open_span(span_name, dict(attributes or {}), kind, self.emit_spans) as span:
                record.span_id = span.span_id
                if not self.trace_id:
                    self.trace_id = span.trace_id
                yield span
        finally:
            record.end = self.clock()
            self.phase = previous

    def node_finished(self, event: NodeEvent) -> None:
        self.events.append(event)

    def finish(self) -> None:
        if self.finished is None:
            self.finished = self.clock()

    def elapsed_ns(self) -> int:
        return (self.finished if self.finished is not None else self.clock()) - self.started

    def phase_events(self, phase: str) -> list[NodeEvent]:
        return [e for e in self.events if e.phase == phase]

    # -- records as they end (any thread; see ``spanwise._setup.tap``) --------------------
    def add(self, record: Any) -> None:
        """Keep this run's spans' parents, and its LLM-call spans. Never raises."""
        try:
            trace_id = self.trace_id
            if (
                not trace_id
                or getattr(record, "record_type", None) != "span"
                or record.trace_id != trace_id
            ):
                return
            with self._lock:
                self._parents[record.span_id] = record.parent_id
                if record.llm is not None:
                    self._llm_spans.append(record)
        except Exception as exc:  # noqa: BLE001 - never fail the program's span
            _internal.report("workflow.collector", exc)

    # -- views -----------------------------------------------------------------------------
    def calls(self) -> list[CallRecord]:
        """Every LLM call of this run so far, in start order."""
        by_span = {e.span_id: e for e in self.events if e.span_id}
        phase_by_span = {p.span_id: p.name for p in self.phases.values() if p.span_id}
        with self._lock:
            spans = sorted(self._llm_spans, key=lambda s: s.start_ns)
            parents = dict(self._parents)
        found = []
        for span in spans:
            parent = span.parent_id
            for _ in range(MAX_PARENT_WALK):
                if not parent:
                    break
                event = by_span.get(parent)
                if event is not None:
                    found.append(CallRecord(span, event.phase, event))
                    break
                phase = phase_by_span.get(parent)
                if phase is not None:
                    found.append(CallRecord(span, phase, None))
                    break
                parent = parents.get(parent, 0)
        return found
