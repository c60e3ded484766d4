"""The node types a workflow may use, by ``type`` name, and their catalog (for the planner
and for validation messages)."""

from __future__ import annotations

from typing import Any

from spanwise.workflow.nodes._base import NodeContext, NodeError, NodeType, Param
from spanwise.workflow.nodes._files import ReadFileNode, WriteFileNode
from spanwise.workflow.nodes._http import HttpNode
from spanwise.workflow.nodes._llm import LlmNode, preload_models
from spanwise.workflow.nodes._python import PythonNode
from spanwise.workflow.nodes._shell import ShellNode

NODE_TYPES: dict[str, type[NodeType]] = {
    cls.type_name: cls
    for cls in (LlmNode, ShellNode, ReadFileNode, WriteFileNode, HttpNode, PythonNode)
}


def catalog() -> list[dict[str, Any]]:
    """Every node type with its parameters and outputs, as plain data."""
    return [cls.catalog_entry() for cls in NODE_TYPES.values()]


__all__ = [
    "NODE_TYPES",
    "NodeContext",
    "NodeError",
    "NodeType",
    "Param",
    "catalog",
    "preload_models",
]
