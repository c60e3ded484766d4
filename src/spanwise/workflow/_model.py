"""A workflow as JSON: ``{"name", "inputs", "nodes": [{"id", "type", "params"}],
"edges": [{"from", "to"}], "outputs"}``, parsed into frozen objects.

Structural problems raise ``WorkflowError`` with one line naming the node or field; the
semantic checks (node types, parameters, edges, cycles, templates) are in ``_validate``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INPUT_TYPES = ("string", "integer", "number", "boolean", "object", "array")
_ID = re.compile(r"^[A-Za-z_][\w-]*$")


class WorkflowError(ValueError):
    """An invalid workflow; the message is one line naming the node or field."""


@dataclass(frozen=True)
class InputSpec:
    name: str
    default: Any = None
    required: bool = False
    type: str | None = None
    description: str = ""


@dataclass(frozen=True)
class NodeSpec:
    id: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Workflow:
    name: str
    nodes: tuple[NodeSpec, ...]
    edges: tuple[tuple[str, str], ...] = ()
    inputs: dict[str, InputSpec] = field(default_factory=dict)
    outputs: dict[str, Any] | None = None
    description: str = ""
    source: Path | None = None

    def node(self, node_id: str) -> NodeSpec:
        for spec in self.nodes:
            if spec.id == node_id:
                return spec
        raise KeyError(node_id)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name}
        if self.description:
            data["description"] = self.description
        if self.inputs:
            data["inputs"] = {
                i.name: {
                    k: v
                    for k, v in (
                        ("description", i.description),
                        ("type", i.type),
                        ("required", i.required or None),
                        ("default", i.default),
                    )
                    if v not in (None, "")
                }
                for i in self.inputs.values()
            }
        data["nodes"] = [{"id": n.id, "type": n.type, "params": n.params} for n in self.nodes]
        data["edges"] = [{"from": a, "to": b} for a, b in self.edges]
        if self.outputs is not None:
            data["outputs"] = self.outputs
        return data


def load_workflow(path: str | Path) -> Workflow:
    """Read, parse and validate a workflow file."""
    from spanwise.workflow._validate import validate

    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WorkflowError(f"{file}: no such workflow file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkflowError(
            f"{file}: cannot read it ({getattr(exc, 'strerror', None) or exc})"
        ) from None
    workflow = parse_json(text, str(file))
    workflow = _with_source(workflow, file)
    validate(workflow)
    return workflow


def parse_json(text: str, where: str = "workflow") -> Workflow:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorkflowError(
            f"{where}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    return parse_workflow(data, where)


def _with_source(workflow: Workflow, file: Path) -> Workflow:
    return Workflow(
        workflow.name,
        workflow.nodes,
        workflow.edges,
        workflow.inputs,
        workflow.outputs,
        workflow.description,
        file.resolve(),
    )


def parse_workflow(data: Any, where: str = "workflow") -> Workflow:
    """Build a ``Workflow`` from decoded JSON; ``WorkflowError`` on a structural problem."""
    if not isinstance(data, dict):
        raise WorkflowError(f"{where}: a workflow is a JSON object, not {_kind(data)}")
    unknown = sorted(
        set(data)
        - {"name", "description", "inputs", "nodes", "edges", "outputs", "$schema", "version"}
    )
    if unknown:
        raise WorkflowError(
            f"{where}: unknown field {unknown[0]!r} (allowed: name, description, "
            "inputs, nodes, edges, outputs)"
        )
    name = data.get("name", "workflow")
    if not isinstance(name, str) or not name.strip():
        raise WorkflowError(f"{where}: 'name' must be a non-empty string")
    nodes = _nodes(data.get("nodes"), where)
    edges = _edges(data.get("edges", []), where)
    inputs = _inputs(data.get("inputs", {}), where)
    outputs = data.get("outputs")
    if outputs is not None and not isinstance(outputs, dict):
        raise WorkflowError(f"{where}: 'outputs' must be an object of name → template")
    description = data.get("description", "")
    return Workflow(
        name.strip(),
        nodes,
        edges,
        inputs,
        outputs,
        description if isinstance(description, str) else "",
    )


def _nodes(raw: Any, where: str) -> tuple[NodeSpec, ...]:
    if not isinstance(raw, list) or not raw:
        raise WorkflowError(f"{where}: 'nodes' must be a non-empty list")
    seen: set[str] = set()
    nodes = []
    for i, item in enumerate(raw, 1):
        if not isinstance(item, dict):
            raise WorkflowError(f"node #{i}: must be an object with id, type and params")
        node_id = item.get("id")
        if not isinstance(node_id, str) or not node_id:
            raise WorkflowError(f"node #{i}: missing 'id'")
        if not _ID.match(node_id) or node_id == "inputs":
            raise WorkflowError(
                f"node {node_id!r}: an id is letters, digits, '_' and '-', starts with a letter "
                "or '_', and is not 'inputs'"
            )
        if node_id in seen:
            raise WorkflowError(f"node {node_id!r}: duplicate id")
        seen.add(node_id)
        extra = sorted(set(item) - {"id", "type", "params", "description"})
        if extra:
            raise WorkflowError(
                f"node {node_id!r}: unknown field {extra[0]!r} (a node has id, type and params)"
            )
        node_type = item.get("type")
        if not isinstance(node_type, str) or not node_type:
            raise WorkflowError(f"node {node_id!r}: missing 'type'")
        params = item.get("params", {})
        if not isinstance(params, dict):
            raise WorkflowError(f"node {node_id!r}: 'params' must be an object")
        nodes.append(NodeSpec(node_id, node_type, params))
    return tuple(nodes)


def _edges(raw: Any, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list):
        raise WorkflowError(f'{where}: \'edges\' must be a list of {{"from": …, "to": …}}')
    edges = []
    for i, item in enumerate(raw, 1):
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("from"), str)
            or not isinstance(item.get("to"), str)
        ):
            raise WorkflowError(f"edge #{i}: must be an object with string 'from' and 'to'")
        edges.append((item["from"], item["to"]))
    return tuple(edges)


def _inputs(raw: Any, where: str) -> dict[str, InputSpec]:
    if not isinstance(raw, dict):
        raise WorkflowError(f"{where}: 'inputs' must be an object of name → spec")
    inputs = {}
    for name, spec in raw.items():
        if not _ID.match(name):
            raise WorkflowError(f"input {name!r}: a name is letters, digits, '_' and '-'")
        if not isinstance(spec, dict):
            # Shorthand: "inputs": {"topic": "owls"} gives a default.
            inputs[name] = InputSpec(name, default=spec)
            continue
        extra = sorted(set(spec) - {"default", "required", "type", "description"})
        if extra:
            raise WorkflowError(
                f"input {name!r}: unknown field {extra[0]!r} "
                "(allowed: default, required, type, description)"
            )
        kind = spec.get("type")
        if kind is not None and kind not in INPUT_TYPES:
            raise WorkflowError(f"input {name!r}: type must be one of {', '.join(INPUT_TYPES)}")
        inputs[name] = InputSpec(
            name,
            default=spec.get("default"),
            required=bool(spec.get("required", False)),
            type=kind,
            description=str(spec.get("description") or ""),
        )
    return inputs


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", type(None): "null"}.get(
        type(value), type(value).__name__
    )
