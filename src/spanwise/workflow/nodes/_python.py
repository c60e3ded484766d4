"""``python``: call a function named by its dotted path (``package.module:function`` or
``package.module.function``) with keyword arguments."""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spanwise.workflow.nodes._base import NodeContext, NodeError, NodeType, Param

_DOTTED = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*(:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*)?$")


class PythonNode(NodeType):
    type_name = "python"
    description = (
        "Call a Python function by dotted path with keyword arguments; its return value is "
        "the output 'result'."
    )
    params = (
        Param(
            "callable",
            "Dotted path: 'package.module:function' or 'package.module.function'.",
            required=True,
        ),
        Param("args", "Keyword arguments for the call.", kind="object"),
        Param(
            "store",
            "Also pass the shared store as store= (the function may change it).",
            kind="boolean",
            default=False,
        ),
    )
    outputs = (("result", "What the function returned."),)

    @classmethod
    def check(cls, params: dict[str, Any]) -> str | None:
        target = params.get("callable")
        if isinstance(target, str) and "${" not in target and not _DOTTED.match(target):
            return f"callable must be a dotted path like 'package.module:function', not {target!r}"
        if (
            isinstance(target, str)
            and "${" not in target
            and "." not in target
            and ":" not in target
        ):
            return f"callable {target!r} needs a module, like 'package.module:function'"
        return None

    def run(self, params: dict[str, Any], ctx: NodeContext) -> dict[str, Any]:
        fn = load_callable(str(params["callable"]), ctx.base_dir)
        kwargs = dict(params.get("args") or {})
        if params.get("store"):
            kwargs["store"] = ctx.store
        return {"result": fn(**kwargs)}


def load_callable(target: str, base_dir: Path | None = None) -> Callable[..., Any]:
    """Import ``target``; the current directory and the workflow's own folder are searched
    too, so a workflow can call a module that sits next to it."""
    if ":" in target:
        module_name, _, attr_path = target.partition(":")
    else:
        module_name, _, attr_path = target.rpartition(".")
    if not module_name or not attr_path:
        raise NodeError(f"callable {target!r} needs a module, like 'package.module:function'")
    module = _import(module_name, base_dir)
    obj: Any = module
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise NodeError(f"{module_name!r} has no attribute {attr_path!r}") from None
    if not callable(obj):
        raise NodeError(f"{target!r} is not callable")
    return obj  # type: ignore[no-any-return]


def _import(module_name: str, base_dir: Path | None) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module_name.startswith(exc.name):
            raise
    extra = [p for p in (os.getcwd(), str(base_dir) if base_dir else None) if p]
    added = [p for p in extra if p not in sys.path]
    sys.path[:0] = added
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise NodeError(f"cannot import module {module_name!r}") from None
        raise
    finally:
        for p in added:
            if p in sys.path:
                sys.path.remove(p)
