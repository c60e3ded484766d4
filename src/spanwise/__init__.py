"""spanwise: local-first observability for LLM workflows and agents.

Before ``configure()`` (or with mode ``off``) every entry point is a cheap no-op.
"""

from __future__ import annotations

from spanwise._llm_api import record_llm_call
from spanwise._propagation import traceparent, with_context
from spanwise._settings import ConfigError
from spanwise._setup import configure, flush, shutdown, status, summary
from spanwise._span import Span, current_span, span

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "Span",
    "configure",
    "current_span",
    "flush",
    "record_llm_call",
    "shutdown",
    "span",
    "status",
    "summary",
    "traceparent",
    "with_context",
]


def _autoconfigure() -> None:
    from spanwise._setup import configure_from_environment

    configure_from_environment()


_autoconfigure()
