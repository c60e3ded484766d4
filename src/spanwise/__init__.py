"""spanwise: local-first observability for LLM workflows and agents.

Before ``configure()`` (or with mode ``off``) every entry point is a cheap no-op.
"""

from __future__ import annotations

from spanwise._llm_api import record_llm_call
from spanwise._propagation import traceparent, with_context
from spanwise._settings import ConfigError
from spanwise._instrument import instrument
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

__version__ = "0.1.0"

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


def _autoconfigure() -> None:
    # Register pipeline extensions (transcript redaction, the OTLP sink) before the first
    # configure(); both modules import only the standard library.
    import spanwise._transcripts
    import spanwise.otel  # noqa: F401
    from spanwise._setup import configure_from_environment

    configure_from_environment()


_autoconfigure()
