"""The optional C hot path (``spanwise._cspan``): the module when it is built and not
switched off with ``SPANWISE_NO_SPEEDUPS=1``, else None (the pure-Python code runs)."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType


def _load() -> ModuleType | None:
    if os.environ.get("SPANWISE_NO_SPEEDUPS", "") not in ("", "0"):
        return None
    try:
        from spanwise import _cspan
    except ImportError:
        return None
    return _cspan


CSPAN = _load()
