"""Semantic checks before anything runs, each failure one line naming the node: unknown
node type, missing or unknown parameter, edge to a missing node, cycle, template that
points nowhere. Also the execution order and the run's inputs."""

from __future__ import annotations

import difflib
import heapq
import json
from typing import Any

from spanwise.workflow._model import InputSpec, Workflow, WorkflowError
from spanwise.workflow._templates import INPUTS, Reference, has_templates, references
from spanwise.workflow.nodes import NODE_TYPES, NodeType


def validate(workflow: Workflow) -> list[str]:
    """Raise ``WorkflowError`` on the first problem; return the execution order."""
    types = {n.id: n.type for n in workflow.nodes}
    ids = set(types)
    for spec in workflow.nodes:
        node_type = _node_type(spec.id, spec.type)
        _check_params(spec.id, node_type, spec.params)
        for where, ref in references(spec.params):
            _check_reference(workflow, types, f"node {spec.id!r}", where, ref, spec.id)
    for a, b in workflow.edges:
        for end in (a, b):
            if end not in ids:
                raise WorkflowError(f"edge {a} → {b}: node {end!r} does not exist")
    if workflow.outputs:
        for name, value in workflow.outputs.items():
            for _, ref in references(value):
                _check_reference(workflow, types, f"output {name!r}", "", ref, None)
    return execution_order(workflow)


def _node_type(node_id: str, type_name: str) -> type[NodeType]:
    node_type = NODE_TYPES.get(type_name)
    if node_type is None:
        close = difflib.get_close_matches(type_name, list(NODE_TYPES), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(NODE_TYPES)}"
        raise WorkflowError(f"node {node_id!r}: unknown node type {type_name!r} ({hint})")
    return node_type


def _check_params(node_id: str, node_type: type[NodeType], params: dict[str, Any]) -> None:
    label = f"node {node_id!r} ({node_type.type_name})"
    for p in node_type.params:
        value = params.get(p.name)
        if p.required and (value is None or (p.kind == "string" and value == "")):
            raise WorkflowError(f"{label}: missing parameter {p.name!r}")
    for name, value in params.items():
        found = node_type.param(name)
        if found is None:
            allowed = ", ".join(q.name for q in node_type.params)
            raise WorkflowError(f"{label}: unknown parameter {name!r} (allowed: {allowed})")
        if value is not None and not has_templates(value) and not found.accepts(value):
            raise WorkflowError(
                f"{label}: parameter {name!r} must be {_article(found.kind)}, not "
                f"{json.dumps(value, default=str)[:60]}"
            )
    problem = node_type.check(params)
    if problem:
        raise WorkflowError(f"{label}: {problem}")


def _check_reference(
    workflow: Workflow,
    types: dict[str, str],
    label: str,
    where: str,
    ref: Reference,
    self_id: str | None,
) -> None:
    at = f" in {where!r}" if where else ""
    if ref.root == INPUTS:
        if not ref.path:
            raise WorkflowError(f"{label}: template {ref.text}{at} names no input")
        if ref.path[0] not in workflow.inputs:
            declared = ", ".join(workflow.inputs) or "none"
            raise WorkflowError(
                f"{label}: template {ref.text}{at} uses undeclared input {ref.path[0]!r} "
                f"(declared: {declared})"
            )
        return
    target_type = types.get(ref.root)
    if target_type is None:
        raise WorkflowError(f"{label}: template {ref.text}{at} refers to unknown node {ref.root!r}")
    if ref.root == self_id:
        raise WorkflowError(f"{label}: template {ref.text}{at} refers to the node itself")
    outputs = [name for name, _ in NODE_TYPES[target_type].outputs]
    if ref.path and ref.path[0] not in outputs:
        raise WorkflowError(
            f"{label}: template {ref.text}{at}: node {ref.root!r} ({target_type}) has no output "
            f"{ref.path[0]!r} (outputs: {', '.join(outputs)})"
        )


def dependencies(workflow: Workflow) -> dict[str, set[str]]:
    """node → the nodes that must run before it: edges, plus every node its templates use."""
    deps: dict[str, set[str]] = {n.id: set() for n in workflow.nodes}
    for a, b in workflow.edges:
        deps[b].add(a)
    for spec in workflow.nodes:
        for _, ref in references(spec.params):
            if ref.root != INPUTS and ref.root in deps and ref.root != spec.id:
                deps[spec.id].add(ref.root)
    return deps


def execution_order(workflow: Workflow) -> list[str]:
    """A topological order that keeps the file's order where the graph allows; a cycle is
    a ``WorkflowError`` that names it."""
    deps = dependencies(workflow)
    position = {n.id: i for i, n in enumerate(workflow.nodes)}
    waiting = {node: len(before) for node, before in deps.items()}
    after: dict[str, list[str]] = {node: [] for node in deps}
    for node, before in deps.items():
        for b in before:
            after[b].append(node)
    ready = [(position[n], n) for n, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, node = heapq.heappop(ready)
        order.append(node)
        for nxt in after[node]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                heapq.heappush(ready, (position[nxt], nxt))
    if len(order) < len(deps):
        cycle = _find_cycle(deps, [n for n in deps if waiting[n] > 0])
        raise WorkflowError(f"node {cycle[0]!r}: cycle {' → '.join(cycle)}")
    return order


def _find_cycle(deps: dict[str, set[str]], stuck: list[str]) -> list[str]:
    """Walk predecessors among the nodes that never became ready until one repeats."""
    stuck_set = set(stuck)
    path = [stuck[0]]
    seen = {stuck[0]: 0}
    while True:
        nxt = sorted(d for d in deps[path[-1]] if d in stuck_set)[0]
        if nxt in seen:
            loop = [*path[seen[nxt] :], nxt]
            return list(reversed(loop))
        seen[nxt] = len(path)
        path.append(nxt)


def resolve_inputs(workflow: Workflow, given: dict[str, Any]) -> dict[str, Any]:
    """The run's inputs: defaults, overridden by ``given`` (strings from ``--param`` are
    converted to the input's declared type)."""
    for name in given:
        if name not in workflow.inputs:
            declared = ", ".join(workflow.inputs) or "none"
            raise WorkflowError(f"unknown input {name!r} (this workflow's inputs: {declared})")
    values: dict[str, Any] = {}
    for name, spec in workflow.inputs.items():
        if name in given:
            values[name] = _convert(spec, given[name])
        elif spec.required and spec.default is None:
            raise WorkflowError(f"missing input {name!r}: pass --param {name}=VALUE")
        else:
            values[name] = spec.default
    return values


def _convert(spec: InputSpec, value: Any) -> Any:
    if not isinstance(value, str) or spec.type in (None, "string"):
        return value
    try:
        converted = json.loads(value)
    except ValueError:
        converted = None
    ok = {
        "integer": isinstance(converted, int) and not isinstance(converted, bool),
        "number": isinstance(converted, (int, float)) and not isinstance(converted, bool),
        "boolean": isinstance(converted, bool),
        "object": isinstance(converted, dict),
        "array": isinstance(converted, list),
    }[spec.type]
    if not ok:
        raise WorkflowError(f"input {spec.name!r} must be {_article(spec.type)}, not {value!r}")
    return converted


def _article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
