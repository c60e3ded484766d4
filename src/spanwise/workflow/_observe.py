"""One observed execution for ``spanwise run`` / ``spanwise plan``: spanwise switched on
for it, the ``llm`` library instrumented, a ``RunCollector`` handed every record as it
ends, and at the end (in a ``finally``) the trace files and the JSON envelope.

Only built when ``--output-format json``, ``--trace`` or ``--trace-planner`` is given.
``--trace`` also sends the run to the store (so ``spanwise trace ID`` shows it); metrics
alone keep everything in memory (spanwise's metrics mode: no writer thread, no files)
unless spanwise is already set to trace mode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spanwise import _internal
from spanwise.workflow._collector import RunCollector
from spanwise.workflow._wrappers import open_span

if TYPE_CHECKING:  # the trace-file modules load only when a trace file is asked for
    from spanwise._span import Span
    from spanwise.workflow._model import Workflow
    from spanwise.workflow._planner import Plan
    from spanwise.workflow._runner import RunResult
    from spanwise.workflow._trace_file import StringTable


# How often the writer stores what has ended during a stored run (the library's default is
# 0.2 s). A workflow's nodes mostly wait (on commands, files, models): the writer's work then
# happens during those waits instead of all at the end, where it would compete with building
# the trace file for the interpreter.
RUN_FLUSH_INTERVAL_S = 0.05


@dataclass(frozen=True)
class ObserveOptions:
    metrics: bool = False
    trace: bool = False
    trace_planner: bool = False
    capture_content: bool | None = None

    @property
    def active(self) -> bool:
        return self.metrics or self.trace or self.trace_planner


class Observation:
    """Collects one execution; ``warn`` receives one-line messages meant for stderr."""

    def __init__(
        self,
        options: ObserveOptions,
        warn: Callable[[str], None],
        collector: RunCollector | None = None,
    ) -> None:
        self.options = options
        self.warn = warn
        self.collector = collector or RunCollector(tracing=options.trace or options.trace_planner)
        self.settings: Any = None
        self.stored = False
        self.files: dict[str, Path] = {}
        self._undo_llm: Callable[[], None] | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Switch spanwise on for this execution: trace mode (the store and its writer)
        when the run is to be stored, else metrics mode (nothing leaves the process, no
        writer thread). Either way the collector sees each record as it ends."""
        import spanwise
        from spanwise._settings import configured_mode
        from spanwise._setup import cache_price_lines, tap

        self.stored = self.options.trace or configured_mode() == "trace"
        self.collector.emit_spans = self.stored
        if self.stored:
            self.settings = spanwise.configure(
                "trace",
                capture_content=self.options.capture_content,
                flush_interval=RUN_FLUSH_INTERVAL_S,
            )
        else:
            self.settings = spanwise.configure(
                "metrics", capture_content=self.options.capture_content
            )
            cache_price_lines()
        # The collector keeps what the envelope needs: spanwise's own summary would be
        # kept for nobody.
        tap(self.collector.add, instead_of_summary=True)

    def instrument_llm(self) -> None:
        if self._undo_llm is not None:
            return
        from spanwise.integrations import llm_lib

        try:
            self._undo_llm = llm_lib.instrument()
        except ImportError:
            pass  # no llm library: llm nodes fail with their own message

    def release_llm(self) -> None:
        undo, self._undo_llm = self._undo_llm, None
        if undo is not None:
            undo()

    def close(self) -> None:
        import spanwise

        self.release_llm()
        spanwise.shutdown()

    # -- phases ----------------------------------------------------------------------------
    @contextmanager
    def root(self, name: str, **attributes: Any) -> Iterator[Span | None]:
        """The root span when a planner and a workflow share one trace."""
        with open_span(name, attributes, "agent", self.collector.emit_spans) as span:
            yield span

    def workflow_phase(self, workflow: Workflow) -> Any:
        attributes: dict[str, Any] = {
            "workflow.name": workflow.name,
            "workflow.execution_id": self.collector.execution_id,
        }
        if workflow.source is not None:
            attributes["workflow.file"] = str(workflow.source)
        if self.options.trace:
            attributes["workflow.trace_file"] = str(self.workflow_trace_path(workflow.name))
        return self.collector.phase_span(
            "workflow", f"workflow {workflow.name}", "workflow", attributes
        )

    def planner_phase(self, request: str) -> Any:
        return self.collector.phase_span(
            "planner", "planner", "agent", {"planner.request": request[:500]}
        )

    @property
    def capture_content(self) -> bool:
        return bool(self.settings is not None and self.settings.capture_content)

    # -- results ---------------------------------------------------------------------------
    def workflow_trace_path(self, name: str) -> Path:
        from spanwise.workflow._trace_file import safe_name, trace_path

        c = self.collector
        return trace_path(
            self.settings.home, f"workflow-trace-{safe_name(name)}", c.started_at, c.execution_id
        )

    def planner_trace_path(self) -> Path:
        from spanwise.workflow._trace_file import trace_path

        c = self.collector
        return trace_path(self.settings.home, "planner-trace", c.started_at, c.execution_id)

    def finish(self) -> None:
        """The execution's end: every span of it has ended. The store's writer stores the
        last ones and closes the store (its checkpoint waits on the disk) now, while the
        trace files are built; ``close`` waits for it."""
        from spanwise._setup import wind_down

        self.collector.finish()
        wind_down()

    def write_workflow_trace(
        self,
        workflow: Workflow,
        inputs: Any,
        result: RunResult | None,
        status: str,
        error: str | None,
    ) -> None:
        from spanwise.workflow._workflow_trace import workflow_document

        path = self.workflow_trace_path(workflow.name)

        def build(table: StringTable) -> dict[str, Any]:
            return workflow_document(
                self.collector,
                table,
                workflow_name=workflow.name,
                workflow_file=str(workflow.source) if workflow.source else None,
                inputs=inputs,
                result=result.outputs if result is not None else None,
                error=error,
                status=status,
                capture_content=self.capture_content,
            )

        self._write("workflow", path, build)

    def write_planner_trace(
        self, plan: Plan | None, request: str, model: str | None, status: str, error: str | None
    ) -> None:
        from spanwise.workflow._planner_trace import planner_document

        def build(table: StringTable) -> dict[str, Any]:
            return planner_document(
                self.collector,
                plan,
                request=request,
                model=model,
                status=status,
                error=error,
                table=table,
            )

        self._write("planner", self.planner_trace_path(), build)

    def _write(
        self, label: str, path: Path, build: Callable[[StringTable], dict[str, Any]]
    ) -> None:
        """Never raises: a trace file that cannot be written is one warning."""
        from spanwise.workflow._trace_file import StringTable, write_document

        try:
            table = StringTable()
            write_document(path, build(table), table)
            self.files[label] = path
        except OSError as exc:
            reason = exc.strerror or str(exc)
            self.warn(f"could not write the {label} trace file {path}: {reason}")
        except Exception as exc:  # noqa: BLE001 - a bug here must not change the run's result
            _internal.report(f"workflow.{label}_trace", exc)
            self.warn(f"could not write the {label} trace file {path}: {type(exc).__name__}")

    def envelope(self, result: Any, error: str | None) -> dict[str, Any]:
        from spanwise.workflow._metrics import envelope

        return envelope(self.collector, result=result, error=error)
