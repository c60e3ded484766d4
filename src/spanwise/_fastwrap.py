"""Signature-exact wrappers for decorated plain functions.

A ``*args, **kwargs`` wrapper costs several times a plain call even when spanwise is off.
For ordinary Python functions we generate a wrapper with the wrapped function's own
parameter list, so the off path is one attribute check and one positional call.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from spanwise._runtime import RT

_PREFIX = "_sw_"


def _forwarding(sig: inspect.Signature) -> tuple[str, str] | None:
    """(parameter list, call arguments) source for ``sig``; None when not expressible."""
    params: list[str] = []
    args: list[str] = []
    saw_kwonly_marker = False
    for p in sig.parameters.values():
        if p.name.startswith(_PREFIX) or not p.name.isidentifier():
            return None
        default = "=None" if p.default is not inspect.Parameter.empty else ""
        if p.kind is p.POSITIONAL_ONLY or p.kind is p.POSITIONAL_OR_KEYWORD:
            params.append(p.name + default)
            args.append(p.name)
        elif p.kind is p.VAR_POSITIONAL:
            params.append("*" + p.name)
            args.append("*" + p.name)
            saw_kwonly_marker = True
        elif p.kind is p.KEYWORD_ONLY:
            if not saw_kwonly_marker:
                params.append("*")
                saw_kwonly_marker = True
            params.append(p.name + default)
            args.append(f"{p.name}={p.name}")
        elif p.kind is p.VAR_KEYWORD:
            params.append("**" + p.name)
            args.append("**" + p.name)
    positional_only = [p for p in sig.parameters.values() if p.kind is p.POSITIONAL_ONLY]
    if positional_only:
        idx = len(positional_only)
        params.insert(idx, "/")
    return ", ".join(params), ", ".join(args)


def exact_wrapper(
    fn: Callable[..., Any], name: str, attributes: dict[str, Any], kind: str, span_cls: Any
) -> Callable[..., Any] | None:
    """A wrapper with ``fn``'s signature that opens a span per call, or None when ``fn``
    is not a plain Python function (then the caller uses a generic wrapper)."""
    code = getattr(fn, "__code__", None)
    if code is None or not inspect.isfunction(fn):
        return None
    try:
        sig = inspect.signature(fn, follow_wrapped=False)
    except (TypeError, ValueError):
        return None
    forwarding = _forwarding(sig)
    if forwarding is None:
        return None
    params, call = forwarding
    source = (
        f"def {_PREFIX}wrapper({params}):\n"
        f"    if {_PREFIX}rt.emit is None:\n"
        f"        return {_PREFIX}fn({call})\n"
        f"    with {_PREFIX}span({_PREFIX}name, {_PREFIX}attrs.copy(), {_PREFIX}kind):\n"
        f"        return {_PREFIX}fn({call})\n"
    )
    namespace: dict[str, Any] = {
        f"{_PREFIX}rt": RT,
        f"{_PREFIX}fn": fn,
        f"{_PREFIX}span": span_cls,
        f"{_PREFIX}name": name,
        f"{_PREFIX}attrs": attributes,
        f"{_PREFIX}kind": kind,
    }
    try:
        exec(compile(source, f"<spanwise wrapper of {name}>", "exec"), namespace)
    except SyntaxError:
        return None
    wrapper: Any = namespace[f"{_PREFIX}wrapper"]
    wrapper.__defaults__ = fn.__defaults__
    wrapper.__kwdefaults__ = fn.__kwdefaults__
    return wrapper  # type: ignore[no-any-return]
