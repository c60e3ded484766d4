"""The workflow runner: JSON workflows of ``llm``, ``shell``, ``read-file``,
``write-file``, ``http`` and ``python`` nodes, with metrics, trace files and a planner.

CLI: ``spanwise run WORKFLOW.json`` and ``spanwise plan "request"``. From Python::

    from spanwise.workflow import load_workflow, run_workflow
    result = run_workflow(load_workflow("flow.json"), {"topic": "owls"})
"""

from __future__ import annotations

from spanwise.workflow._collector import RunCollector
from spanwise.workflow._model import (
    NodeSpec,
    Workflow,
    WorkflowError,
    load_workflow,
    parse_workflow,
)
from spanwise.workflow._planner import Plan, PlanError, plan_workflow
from spanwise.workflow._runner import RunResult, run_workflow
from spanwise.workflow._validate import validate
from spanwise.workflow.nodes import NODE_TYPES, NodeError, catalog

__all__ = [
    "NODE_TYPES",
    "NodeError",
    "NodeSpec",
    "Plan",
    "PlanError",
    "RunCollector",
    "RunResult",
    "Workflow",
    "WorkflowError",
    "catalog",
    "load_workflow",
    "parse_workflow",
    "plan_workflow",
    "run_workflow",
    "validate",
]
