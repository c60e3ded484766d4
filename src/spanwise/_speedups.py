"""The optional C hot paths: a compiled module when it is built and not switched off with
``SPANWISE_NO_SPEEDUPS=1``, else None (the pure-Python code runs)."""

from __future__ import annotations

import importlib
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType

DISABLED = os.environ.get("SPANWISE_NO_SPEEDUPS", "") not in ("", "0")


def load(name: str, api: int | None = None) -> ModuleType | None:
    """The extension ``name``, or None when it is missing, switched off, or built from other
    sources than this code expects (its ``API`` differs from ``api``)."""
    if DISABLED:
        return None
    try:
        module = importlib.import_module(name)
    except ImportError:
        return None
    if api is not None and getattr(module, "API", None) != api:
        return None  # a stale build
    return module


CSPAN = load("spanwise._cspan")
