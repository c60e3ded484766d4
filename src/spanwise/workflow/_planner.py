"""The planner: ask a model (any ``llm`` model) to turn a request into a workflow built
from the node catalog, validate it, and retry once with the validation error.

Steps are recorded like nodes of a ``planner`` phase: ``generate`` and ``validate``, then
``repair`` and ``validate-repair`` when the first answer was invalid.
"""

from __future__ import annotations

import contextlib
import json
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from spanwise.workflow._model import Workflow, WorkflowError, parse_workflow
from spanwise.workflow._validate import validate
from spanwise.workflow._wrappers import NodeEvent, Recorder, observe_node
from spanwise.workflow.nodes import catalog

MAX_ANSWER_IN_ERROR = 80

INSTRUCTIONS = """\
You turn a request into a workflow for the spanwise workflow runner.
Answer with one JSON object and nothing else, in this shape:
{"name": "short-name", "description": "what it does",
 "inputs": {"<input>": {"description": "...", "default": "..."}},
 "nodes": [{"id": "<node-id>", "type": "<node type>", "params": {...}}],
 "edges": [{"from": "<node-id>", "to": "<node-id>"}],
 "outputs": {"<name>": "${<node-id>.<output>}"}}
Rules:
- Node ids use letters, digits, '-' and '_'.
- A parameter may contain templates: ${inputs.<input>} or ${<node-id>.<output>}. A node runs
  after every node its templates use, and after the nodes that have an edge to it.
- Use only these node types, parameters and outputs:
"""


class PlanError(Exception):
    """The planner could not produce a valid workflow; one line."""


@dataclass
class Attempt:
    step: str
    prompt: str
    response: str | None = None
    error: str | None = None
    event: NodeEvent | None = None


@dataclass
class Plan:
    request: str
    model: str | None
    workflow: Workflow | None = None
    error: str | None = None
    attempts: list[Attempt] = field(default_factory=list)


def planner_prompt(request: str) -> str:
    lines = [json.dumps(entry, separators=(",", ":")) for entry in catalog()]
    return INSTRUCTIONS + "\n".join(lines) + f"\n\nRequest: {request.strip()}\n"


def repair_prompt(first_prompt: str, answer: str, error: str) -> str:
    return (
        f"{first_prompt}\nYour previous answer was:\n{answer}\n\n"
        f"It is not a valid workflow: {error}\n"
        "Answer again with the corrected workflow JSON only.\n"
    )


def extract_workflow(answer: str) -> Workflow:
    """The workflow in a model's answer (code fences and chatter around it are allowed)."""
    text = answer.strip()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        snippet = " ".join(text.split())[:MAX_ANSWER_IN_ERROR]
        raise WorkflowError(f"the answer holds no JSON object: {snippet!r}")
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError as exc:
        raise WorkflowError(
            f"the answer is not valid JSON ({exc.msg}, column {exc.colno})"
        ) from None
    workflow = parse_workflow(data, "the answer")
    validate(workflow)
    return workflow


def plan_workflow(
    request: str, *, model: str | None = None, recorder: Recorder | None = None
) -> Plan:
    """Ask ``model`` for a workflow; retry once with the validation error. Raises
    ``PlanError`` when the model cannot be used; an invalid final answer is ``plan.error``."""
    if not request.strip():
        raise PlanError("the request is empty")
    llm_model = _model(model)
    plan = Plan(request, getattr(llm_model, "model_id", model))
    prompt = planner_prompt(request)
    attempt = _ask(plan, llm_model, "generate", prompt, recorder)
    error = _check(plan, attempt, "validate", recorder)
    if error is None:
        return plan
    retry = _ask(
        plan, llm_model, "repair", repair_prompt(prompt, attempt.response or "", error), recorder
    )
    error = _check(plan, retry, "validate-repair", recorder)
    if error is not None:
        plan.error = f"the model's workflow is still invalid after one retry: {error}"
    return plan


def _model(name: str | None) -> Any:
    try:
        import llm
    except ImportError:
        raise PlanError("the planner needs the llm library: pip install 'spanwise[llm]'") from None
    try:
        return llm.get_model(name)
    except llm.UnknownModelError:
        raise PlanError(f"unknown model {name!r} (see: llm models)") from None


def _step(
    recorder: Recorder | None, name: str, kind: str
) -> AbstractContextManager[NodeEvent | None]:
    if recorder is None:
        return contextlib.nullcontext()
    return observe_node(recorder, name, kind)


def _ask(plan: Plan, llm_model: Any, step: str, prompt: str, recorder: Recorder | None) -> Attempt:
    attempt = Attempt(step, prompt)
    plan.attempts.append(attempt)
    with _step(recorder, step, "planner-llm") as event:
        attempt.event = event
        try:
            attempt.response = llm_model.prompt(prompt).text()
        except Exception as exc:
            attempt.error = f"{type(exc).__name__}: {exc}"
            raise PlanError(f"the model failed: {attempt.error.splitlines()[0]}") from exc
    return attempt


def _check(plan: Plan, attempt: Attempt, step: str, recorder: Recorder | None) -> str | None:
    try:
        with _step(recorder, step, "planner-validate"):
            plan.workflow = extract_workflow(attempt.response or "")
        return None
    except WorkflowError as exc:
        attempt.error = str(exc)
        return attempt.error
