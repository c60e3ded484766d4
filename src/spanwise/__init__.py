"""spanwise: local-first observability for LLM workflows and agents.

Before ``configure()`` (or with mode ``off``) every entry point is a cheap no-op, and
``import spanwise`` loads only the standard library: the public names below are
imported on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "AsyncLock": "spanwise.debug",
    "ConfigError": "spanwise._settings",
    "FileLock": "spanwise.debug",
    "Lock": "spanwise.debug",
    "RLock": "spanwise.debug",
    "Span": "spanwise._span",
    "capture_errors": "spanwise.debug",
    "configure": "spanwise._setup",
    "current_span": "spanwise._span",
    "flush": "spanwise._setup",
    "instrument": "spanwise._instrument",
    "instrument_lock": "spanwise.debug",
    "record_llm_call": "spanwise._llm_api",
    "shutdown": "spanwise._setup",
    "span": "spanwise._span",
    "status": "spanwise._setup",
    "summary": "spanwise._setup",
    "traceparent": "spanwise._propagation",
    "track_state": "spanwise.debug",
    "with_context": "spanwise._propagation",
}

__all__ = [
    "AsyncLock",
    "ConfigError",
    "FileLock",
    "Lock",
    "RLock",
    "Span",
    "capture_errors",
    "configure",
    "current_span",
    "flush",
    "instrument",
    "instrument_lock",
    "record_llm_call",
    "shutdown",
    "span",
    "status",
    "summary",
    "traceparent",
    "track_state",
    "with_context",
]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from spanwise._instrument import instrument
    from spanwise._llm_api import record_llm_call
    from spanwise._propagation import traceparent, with_context
    from spanwise._settings import ConfigError
    from spanwise._setup import configure, flush, shutdown, status, summary
    from spanwise._span import Span, current_span, span
    from spanwise.debug import (
        AsyncLock,
        FileLock,
        Lock,
        RLock,
        capture_errors,
        instrument_lock,
        track_state,
    )


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'spanwise' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups are plain module attributes
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


def _autoconfigure() -> None:
    import os

    if not os.environ.get("SPANWISE_MODE"):
        home = os.environ.get("SPANWISE_HOME") or "~/.spanwise"
        if not os.path.exists(os.path.join(os.path.expanduser(home), "config.toml")):
            return
    from spanwise._setup import configure_from_environment

    configure_from_environment()


_autoconfigure()
