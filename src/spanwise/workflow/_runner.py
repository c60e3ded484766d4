"""Compile a workflow into steps and run them in dependency order over one shared store
(``{"inputs": {...}, "<node id>": {outputs}, …}``).

With no recorder the steps are the bare nodes and the runner resolves templates and files
outputs itself: nothing is wrapped, timed or collected. With a recorder each node is
wrapped ``InstrumentedNode → NamespacedNode → TemplateAwareNode → node``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spanwise.workflow._model import NodeSpec, Workflow
from spanwise.workflow._templates import TemplateError, resolve_params, resolve_value
from spanwise.workflow._validate import resolve_inputs, validate
from spanwise.workflow._wrappers import (
    Executable,
    InstrumentedNode,
    NamespacedNode,
    Recorder,
    TemplateAwareNode,
    store_outputs,
)
from spanwise.workflow.nodes import NODE_TYPES, NodeContext, NodeError, NodeType


@dataclass
class RunResult:
    workflow: Workflow
    outputs: Any = None
    store: dict[str, Any] = field(default_factory=dict)
    executed: list[str] = field(default_factory=list)
    error: str | None = None
    failed_node: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Step:
    spec: NodeSpec
    node: NodeType
    ctx: NodeContext
    wrapped: Executable | None = None


def compile_workflow(
    workflow: Workflow,
    order: list[str],
    store: dict[str, Any],
    recorder: Recorder | None = None,
    cache: dict[Any, Any] | None = None,
) -> list[Step]:
    """One step per node in ``order``; wrapped only when a recorder is given. ``cache`` is
    shared by the nodes (see ``NodeContext.cache``)."""
    base_dir = workflow.source.parent if workflow.source else None
    cache = {} if cache is None else cache
    specs = {spec.id: spec for spec in workflow.nodes}
    steps = []
    for node_id in order:
        spec = specs[node_id]
        node_cls = NODE_TYPES[spec.type]
        node = node_cls()
        ctx = NodeContext(node_id, store, base_dir, cache)
        step = Step(spec, node, ctx)
        if recorder is not None:
            touches = node_cls.uses_store or bool(spec.params.get("store") is True)
            step.wrapped = InstrumentedNode(
                NamespacedNode(TemplateAwareNode(spec, node, ctx), spec.id), spec, recorder, touches
            )
        steps.append(step)
    return steps


def run_workflow(
    workflow: Workflow,
    inputs: dict[str, Any] | None = None,
    *,
    recorder: Recorder | None = None,
    cache: dict[Any, Any] | None = None,
) -> RunResult:
    """Run every node once, in dependency order, stopping at the first failure.

    ``cache`` holds what the nodes share and may be filled beforehand (see
    ``nodes.preload_models``).

    Invalid workflows and inputs raise ``WorkflowError``; a failing node does not raise:
    the result carries ``error`` and ``failed_node``. ``KeyboardInterrupt`` propagates.
    """
    order = validate(workflow)
    store: dict[str, Any] = {"inputs": resolve_inputs(workflow, inputs or {})}
    result = RunResult(workflow, store=store)
    steps = compile_workflow(workflow, order, store, recorder, cache)
    for step in steps:
        result.executed.append(step.spec.id)
        try:
            if step.wrapped is not None:
                step.wrapped.execute(store)
            else:
                params, _ = resolve_params(step.node.with_defaults(step.spec.params), store)
                store_outputs(store, step.spec.id, step.node.run(params, step.ctx))
        except Exception as exc:  # noqa: BLE001 - a node's failure is the run's result
            result.error = f"node {step.spec.id!r} ({step.spec.type}) failed: {describe(exc)}"
            result.failed_node = step.spec.id
            return result
    try:
        result.outputs = final_outputs(workflow, store, result.executed)
    except TemplateError as exc:
        result.error = f"outputs: {exc}"
    return result


def final_outputs(workflow: Workflow, store: dict[str, Any], executed: list[str]) -> Any:
    """The declared outputs resolved, or the last node's outputs when none are declared."""
    if workflow.outputs is not None:
        return {name: resolve_value(value, store) for name, value in workflow.outputs.items()}
    return store.get(executed[-1]) if executed else None


def describe(exc: BaseException) -> str:
    """One line for a node's failure."""
    if isinstance(exc, (NodeError, TemplateError)):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text.splitlines()[0] if text else type(exc).__name__


def result_text(outputs: Any) -> str:
    """The result as a person reads it: one output's value, or ``name: value`` lines
    (without the trailing newline a command's output usually ends with)."""
    import json

    def text(value: Any) -> str:
        if isinstance(value, str):
            return value.rstrip("\n")
        return json.dumps(value, indent=2, default=str)

    if isinstance(outputs, dict) and len(outputs) == 1:
        return text(next(iter(outputs.values())))
    if isinstance(outputs, dict):
        return "\n".join(f"{name}: {text(value)}" for name, value in outputs.items())
    return text(outputs)
