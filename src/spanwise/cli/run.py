"""``spanwise run WORKFLOW.json``: run a workflow; with ``--output-format json`` print the
metrics envelope, with ``--trace`` write a trace file and record the run in the store.
A target that is not a file is a request: the planner writes the workflow first."""

from __future__ import annotations

import contextlib
import gc
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from spanwise.cli._common import (
    CliError,
    output_file,
    output_format_option,
    params_option,
    print_json,
)

# Allocations (less deallocations) between two young-generation collections during a run,
# instead of Python's 700: with the heap frozen each collection walks only what the run
# made, and most of that lives until the run ends; fewer, still short, pauses.
RUN_GC_THRESHOLD = 10_000


@dataclass
class Job:
    """What to do: run a workflow (given, or planned from ``request``)."""

    workflow: Any = None
    request: str | None = None
    model: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    run: bool = True
    save: Path | None = None
    # What the run's nodes share, filled by the preload step (the models they name).
    cache: dict[Any, Any] = field(default_factory=dict)


def parse_params(values: tuple[str, ...]) -> dict[str, str]:
    params = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--param must be KEY=VALUE, not {item!r}")
        params[key.strip()] = value
    return params


def load_target(target: str) -> Any:
    """A workflow file, ``example:NAME``, or None when ``target`` reads as a request."""
    from spanwise.workflow import WorkflowError, load_workflow

    if target.startswith("example:"):
        from spanwise import examples

        try:
            file = examples.path(target[len("example:") :])
        except ValueError as exc:
            raise CliError(str(exc)) from None
    else:
        file = Path(target)
        # Words with spaces that name no file are a request; anything else is a path.
        if not file.exists() and len(target.split()) > 1:
            return None
    try:
        return load_workflow(file)
    except WorkflowError as exc:
        raise CliError(str(exc)) from None


def warn(message: str) -> None:
    click.echo(f"spanwise: warning: {message}", err=True)


def note(message: str) -> None:
    click.echo(f"spanwise: {message}", err=True)


def execute(
    job: Job, *, output_format: str, trace: bool, trace_planner: bool, capture_content: bool | None
) -> None:
    """Run ``job`` and print what the user asked for; exits 1 when the run failed."""
    from spanwise.workflow._observe import ObserveOptions

    options = ObserveOptions(output_format == "json", trace, trace_planner, capture_content)
    if job.workflow is not None:
        _check_inputs(job.workflow, job.params)
    _preload(job)
    if not options.active:
        outcome = _execute_plain(job)
        _print(job, outcome, None, output_format)
        return
    outcome, doc = _execute_observed(job, options)
    _print(job, outcome, doc, output_format)


@dataclass
class Outcome:
    workflow: Any = None
    plan: Any = None
    result: Any = None
    error: str | None = None

    @property
    def value(self) -> Any:
        if self.result is not None:
            return self.result.outputs
        return self.workflow.to_dict() if self.workflow is not None else None


def _uses_llm(job: Job) -> bool:
    workflow = job.workflow
    return job.request is not None or any(n.type == "llm" for n in workflow.nodes)


def _preload(job: Job) -> None:
    """Load the libraries the run will use, then take the heap out of the garbage
    collector's reach (``gc.freeze()``), the same way whatever the flags.

    The ``llm`` library and its plugins (the openai SDK among them) leave about a million
    long-lived objects. Each full collection during the run would walk all of them (60 to
    90 ms here); frozen, a collection walks only what the run itself allocates. A frozen
    object is never freed, which costs nothing in a process that exits after one run.
    What the run allocates is then collected every ``RUN_GC_THRESHOLD`` allocations.
    The models the workflow's llm nodes name are looked up here too, once. For the same
    reason the process ends without the interpreter's teardown of that heap (``_exit``).
    """
    from spanwise.cli._exit import skip_teardown

    skip_teardown()
    if _uses_llm(job):
        try:
            from llm.plugins import load_plugins
        except ImportError:
            pass  # llm nodes fail with their own message
        else:
            try:
                load_plugins()  # type: ignore[no-untyped-call]  # as the first model lookup would
            except Exception as exc:  # noqa: BLE001 - a broken plugin is the node's error
                warn(f"an llm plugin failed to load: {type(exc).__name__}: {exc}")
            else:
                if job.workflow is not None:
                    from spanwise.workflow.nodes import preload_models

                    preload_models(job.workflow.nodes, job.cache)
    gc.freeze()
    gc.set_threshold(RUN_GC_THRESHOLD, *gc.get_threshold()[1:])


def _check_inputs(workflow: Any, params: dict[str, str]) -> None:
    from spanwise.workflow import WorkflowError
    from spanwise.workflow._validate import resolve_inputs

    try:
        resolve_inputs(workflow, params)
    except WorkflowError as exc:
        raise CliError(str(exc)) from None


def _execute_plain(job: Job) -> Outcome:
    """No flags: nothing is wrapped, collected or written."""
    from spanwise.workflow import PlanError, plan_workflow, run_workflow

    outcome = Outcome(workflow=job.workflow)
    if job.request is not None:
        try:
            plan = plan_workflow(job.request, model=job.model)
        except PlanError as exc:
            raise CliError(f"planner: {exc}") from None
        if plan.error:
            raise CliError(f"planner: {plan.error}")
        outcome.workflow = plan.workflow
        _save(job, plan.workflow)
        if job.run:
            _check_inputs(plan.workflow, job.params)
    if job.run:
        outcome.result = run_workflow(outcome.workflow, job.params, cache=job.cache)
        outcome.error = outcome.result.error
    return outcome


def _execute_observed(job: Job, options: Any) -> tuple[Outcome, dict[str, Any] | None]:
    from spanwise.workflow import PlanError, WorkflowError, plan_workflow, run_workflow
    from spanwise.workflow._observe import Observation
    from spanwise.workflow._validate import resolve_inputs

    request = job.request
    obs = Observation(options, warn)
    workflow = job.workflow
    if "llm" in sys.modules or _uses_llm(job):
        # Patched before spanwise starts (harmless while off: the wrappers pass through);
        # if starting fails, release_llm() below restores the library.
        obs.instrument_llm()
    try:
        obs.start()
    except BaseException:
        obs.release_llm()
        raise
    outcome = Outcome(workflow=job.workflow)
    status, inputs, ran = "failed", None, False
    try:
        root = (
            obs.root(f"plan: {request[:80]}") if request and job.run else contextlib.nullcontext()
        )
        with root:
            if request is not None:
                with obs.planner_phase(request):
                    try:
                        outcome.plan = plan_workflow(
                            request, model=job.model, recorder=obs.collector
                        )
                        outcome.error = outcome.plan.error and f"planner: {outcome.plan.error}"
                    except PlanError as exc:
                        outcome.error = f"planner: {exc}"
                if outcome.error is None:
                    outcome.workflow = outcome.plan.workflow
                    _save(job, outcome.workflow)
            if outcome.error is None and job.run:
                workflow = outcome.workflow
                if "llm" in sys.modules or any(n.type == "llm" for n in workflow.nodes):
                    obs.instrument_llm()
                try:
                    inputs = resolve_inputs(workflow, job.params)
                except WorkflowError as exc:
                    outcome.error = str(exc)
                if outcome.error is None:
                    ran = True
                    with obs.workflow_phase(workflow) as span:
                        outcome.result = run_workflow(
                            workflow, job.params, recorder=obs.collector, cache=job.cache
                        )
                        outcome.error = outcome.result.error
                        if outcome.error:
                            span.set_status("error", outcome.error)
        status = "success" if outcome.error is None else "failed"
    except KeyboardInterrupt:
        status, outcome.error = "interrupted", "interrupted (Ctrl+C)"
        raise
    finally:
        doc = _finish(job, obs, outcome, options, status, inputs, ran)
    return outcome, doc


def _finish(
    job: Job, obs: Any, outcome: Outcome, options: Any, status: str, inputs: Any, ran: bool
) -> dict[str, Any] | None:
    """Trace files, the envelope and the store: runs in the ``finally`` of every run."""
    doc = None
    try:
        obs.finish()
        if options.trace and ran:
            obs.write_workflow_trace(
                outcome.workflow, inputs, outcome.result, status, outcome.error
            )
        if options.trace_planner and job.request is not None:
            obs.write_planner_trace(outcome.plan, job.request, job.model, status, outcome.error)
        if options.metrics:
            doc = obs.envelope(outcome.value, outcome.error)
    finally:
        obs.close()
    if obs.stored and obs.collector.trace_id and (options.trace or options.trace_planner):
        trace_hex = f"{obs.collector.trace_id:032x}"
        note(f"trace {trace_hex} (spanwise trace {trace_hex[:12]})")
    for label, path in obs.files.items():
        note(f"{label} trace file: {path}")
    return doc


def _save(job: Job, workflow: Any) -> None:
    if job.save is None or workflow is None:
        return
    try:
        job.save.parent.mkdir(parents=True, exist_ok=True)
        job.save.write_text(json.dumps(workflow.to_dict(), indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot save the workflow to {job.save}: {exc.strerror or exc}") from None
    note(f"workflow saved to {job.save}")


def _print(job: Job, outcome: Outcome, doc: dict[str, Any] | None, output_format: str) -> None:
    from spanwise.workflow._runner import result_text

    if output_format == "json":
        print_json(doc)
        if outcome.error is not None:
            raise click.exceptions.Exit(1)
        return
    if outcome.error is not None:
        raise CliError(outcome.error)
    if outcome.result is None and job.save is not None:
        return
    out = output_file()
    if outcome.result is None:  # planned, not run: the workflow itself
        text = json.dumps(outcome.value, indent=2, ensure_ascii=False)
    else:
        text = result_text(outcome.value)
    out.write(text + "\n")
    out.flush()


@click.command("run")
@click.argument("target")
@params_option("A workflow input (repeatable).")
@output_format_option("json: the result with duration, cost and tokens.")
@click.option(
    "--trace",
    is_flag=True,
    help="Write SPANWISE_HOME/debug/workflow-trace-….json and record the run.",
)
@click.option(
    "--trace-planner",
    is_flag=True,
    help="When TARGET is a request: write SPANWISE_HOME/debug/planner-trace-….json.",
)
@click.option("--model", "-m", default=None, help="Planner model when TARGET is a request.")
@click.option(
    "--capture-content",
    is_flag=True,
    default=None,
    help="Keep LLM prompts and responses in traces (or SPANWISE_CAPTURE_CONTENT=1).",
)
def run_cmd(
    target: str,
    params: tuple[str, ...],
    output_format: str,
    trace: bool,
    trace_planner: bool,
    model: str | None,
    capture_content: bool | None,
) -> None:
    """Run a workflow file (or example:NAME). A TARGET that is not a file is a request in
    plain words: the planner turns it into a workflow, which then runs."""
    workflow = load_target(target)
    job = Job(
        workflow=workflow,
        request=target if workflow is None else None,
        model=model,
        params=parse_params(params),
    )
    execute(
        job,
        output_format=output_format,
        trace=trace,
        trace_planner=trace_planner,
        capture_content=capture_content,
    )


def register(group: click.Group) -> None:
    group.add_command(run_cmd)
