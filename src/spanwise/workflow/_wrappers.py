"""The wrapper chain the compiler puts around a node when metrics or tracing is asked for:
``InstrumentedNode → NamespacedNode → TemplateAwareNode → node``. Without a recorder the
runner calls nodes directly and none of this exists.

- ``TemplateAwareNode`` resolves ``${…}`` templates and notes what each one became.
- ``NamespacedNode`` files the node's outputs under its id in the shared store.
- ``InstrumentedNode`` (outermost) times the node on a monotonic clock, opens its span,
  and, when tracing, diffs the shared store around it; failing nodes are recorded too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import Token
from typing import Any, Protocol

from spanwise import _internal
from spanwise._runtime import RT
from spanwise._span import Span, current
from spanwise.workflow._model import NodeSpec
from spanwise.workflow._templates import resolve_params
from spanwise.workflow.nodes import NodeContext, NodeType

NODE_ID_ATTR = "workflow.node.id"
NODE_TYPE_ATTR = "workflow.node.type"


class NodeEvent:
    """What one node did: the per-node entry of metrics and trace files."""

    __slots__ = (
        "duration_ns",
        "error",
        "error_type",
        "node_id",
        "node_type",
        "outputs",
        "params",
        "phase",
        "span_id",
        "start_ns",
        "status",
        "store_diff",
        "templates",
    )

    def __init__(self, node_id: str, node_type: str, phase: str) -> None:
        self.node_id = node_id
        self.node_type = node_type
        self.phase = phase
        self.status = "success"
        self.error_type: str | None = None
        self.error: str | None = None
        self.start_ns = 0
        self.duration_ns = 0
        self.params: dict[str, Any] | None = None
        self.templates: list[dict[str, Any]] | None = None
        self.outputs: dict[str, Any] | None = None
        self.store_diff: dict[str, list[str]] | None = None
        self.span_id = 0

    def fail(self, exc: BaseException) -> None:
        self.status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        self.error_type = type(exc).__name__
        self.error = str(exc) or type(exc).__name__


class Recorder(Protocol):
    """Where instrumented nodes report (``RunCollector``)."""

    tracing: bool
    phase: str
    clock: Callable[[], int]
    # False when nothing stores spans (metrics only): node spans are then current for
    # their body, so LLM calls get them as parents, but they are never emitted.
    emit_spans: bool

    def node_finished(self, event: NodeEvent) -> None: ...


class Executable(Protocol):
    def execute(self, store: dict[str, Any], event: NodeEvent | None = None) -> dict[str, Any]: ...


def store_outputs(store: dict[str, Any], node_id: str, outputs: dict[str, Any]) -> None:
    """Namespacing: a node's outputs live under its id."""
    store[node_id] = outputs


class TemplateAwareNode:
    __slots__ = ("ctx", "node", "spec")

    def __init__(self, spec: NodeSpec, node: NodeType, ctx: NodeContext) -> None:
        self.spec, self.node, self.ctx = spec, node, ctx

    def execute(self, store: dict[str, Any], event: NodeEvent | None = None) -> dict[str, Any]:
        params, resolutions = resolve_params(self.node.with_defaults(self.spec.params), store)
        if event is not None:
            event.params, event.templates = params, resolutions
        return self.node.run(params, self.ctx)


class NamespacedNode:
    __slots__ = ("inner", "node_id")

    def __init__(self, inner: Executable, node_id: str) -> None:
        self.inner, self.node_id = inner, node_id

    def execute(self, store: dict[str, Any], event: NodeEvent | None = None) -> dict[str, Any]:
        outputs = self.inner.execute(store, event)
        store_outputs(store, self.node_id, outputs)
        if event is not None:
            event.outputs = outputs
        return outputs


class InstrumentedNode:
    __slots__ = ("inner", "recorder", "spec", "touches_store")

    def __init__(
        self, inner: Executable, spec: NodeSpec, recorder: Recorder, touches_store: bool
    ) -> None:
        self.inner, self.spec, self.recorder = inner, spec, recorder
        self.touches_store = touches_store

    def execute(self, store: dict[str, Any], event: NodeEvent | None = None) -> dict[str, Any]:
        node_id = self.spec.id
        if not self.recorder.tracing:
            with NodeScope(self.recorder, node_id, self.spec.type) as ev:
                return self.inner.execute(store, ev)
        scope = None if self.touches_store else (node_id,)
        # The usual case: a node that only fills its own, new namespace adds its outputs'
        # keys and changes nothing else, so there is no value to fingerprint.
        fresh = scope is not None and node_id not in store
        with NodeScope(self.recorder, node_id, self.spec.type) as ev:
            before = None if fresh else safe_snapshot(store, scope)
            try:
                return self.inner.execute(store, ev)
            finally:
                if fresh:
                    ev.store_diff = added_namespace(store, node_id)
                elif before is not None:
                    after = safe_snapshot(store, scope)
                    if after is not None:
                        ev.store_diff = diff(before, after)


class NodeScope:
    """Times a node (or planner step) on the recorder's monotonic clock, inside its span,
    and reports it, whether it succeeds or fails. ``with NodeScope(…) as event:``.

    A class rather than a generator-based context manager: it runs once per node, and its
    span is entered and left by the span's own (C) methods."""

    __slots__ = ("event", "recorder", "span", "started", "token")

    def __init__(self, recorder: Recorder, node_id: str, node_type: str) -> None:
        self.recorder = recorder
        self.event = NodeEvent(node_id, node_type, recorder.phase)
        self.span = Span(node_id, {NODE_ID_ATTR: node_id, NODE_TYPE_ATTR: node_type}, "node")
        self.token: Token[Span | None] | None = None
        self.started = 0

    def __enter__(self) -> NodeEvent:
        event, span = self.event, self.span
        self.started = self.recorder.clock()
        if self.recorder.emit_spans:
            span.__enter__()
        else:
            self.token = _enter_silently(span)
        event.span_id = span.span_id
        event.start_ns = span.start_ns if event.span_id else RT.now_ns()
        return event

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        event = self.event
        try:
            if self.token is None:
                self.span.__exit__(exc_type, exc, tb)
            else:
                _exit_silently(self.token)
        finally:
            if exc is not None:
                event.fail(exc)
            event.duration_ns = self.recorder.clock() - self.started
            self.recorder.node_finished(event)


def observe_node(recorder: Recorder, node_id: str, node_type: str) -> NodeScope:
    """Time a node (or planner step) and report it, whether it succeeds or fails."""
    return NodeScope(recorder, node_id, node_type)


@contextmanager
def open_span(name: str, attributes: dict[str, Any], kind: str, emit: bool) -> Iterator[Span]:
    """A span that is current for the body; emitted at the end only when ``emit``."""
    span = Span(name, attributes, kind)
    if emit:
        with span:
            yield span
        return
    token = _enter_silently(span)
    try:
        yield span
    finally:
        _exit_silently(token)


def _enter_silently(span: Span) -> Token[Span | None] | None:
    """Ids, parent and start, and current for the body, but never emitted: the span's
    own ``__enter__``, with its token taken back so that no ``__exit__`` can emit it.
    None when spanwise is off (the span then has no ids, as any span then)."""
    span.__enter__()
    token: Token[Span | None] | None = span._token
    span._token = None
    return token


def _exit_silently(token: Token[Span | None] | None) -> None:
    if token is None:
        return
    try:
        current.reset(token)
    except ValueError:  # reset from another context: restore by hand
        current.set(None)


def safe_snapshot(store: dict[str, Any], scope: tuple[str, ...] | None) -> dict[str, str] | None:
    """``snapshot`` that never raises into the node it observes."""
    try:
        return snapshot(store, scope)
    except Exception as exc:  # noqa: BLE001 - observing must not break the run
        _internal.report("workflow.snapshot", exc)
        return None


def snapshot(store: dict[str, Any], scope: tuple[str, ...] | None) -> dict[str, str]:
    """The store flattened one level (``node.key``) with each value's JSON text, so that
    changes made in place are seen too. ``scope`` limits it to some top-level keys."""
    flat: dict[str, str] = {}
    keys = store.keys() if scope is None else [k for k in scope if k in store]
    for key in keys:
        value = store[key]
        if isinstance(value, dict) and value:
            for sub, item in value.items():
                flat[f"{key}.{sub}"] = _fingerprint(item)
        else:
            flat[str(key)] = _fingerprint(value)
    return flat


def _fingerprint(value: Any) -> str:
    if isinstance(value, str):
        return "\x00" + value  # never equal to the JSON text of a non-string
    try:
        return json.dumps(value, sort_keys=True, default=_type_and_id)
    except (TypeError, ValueError, RecursionError):  # cycles, mixed-type keys, depth
        return _type_and_id(value)


def _type_and_id(value: Any) -> str:
    """Stands in for objects JSON cannot hold (their repr may be costly or may raise)."""
    return f"<{type(value).__name__} at {id(value):#x}>"


def added_namespace(store: dict[str, Any], node_id: str) -> dict[str, list[str]]:
    value = store.get(node_id)
    if isinstance(value, dict) and value:
        added = sorted(f"{node_id}.{key}" for key in value)
    else:
        added = [node_id] if node_id in store else []
    return {"added": added, "removed": [], "changed": []}


def diff(before: dict[str, str], after: dict[str, str]) -> dict[str, list[str]]:
    return {
        "added": sorted(k for k in after if k not in before),
        "removed": sorted(k for k in before if k not in after),
        "changed": sorted(k for k in after if k in before and before[k] != after[k]),
    }
