"""Integrations with third-party LLM libraries: one module each, imported lazily.

Contract for a module listed in ``INTEGRATIONS``: it imports its library only inside
``instrument()``; ``instrument() -> Callable[[], None]`` patches the library and returns
an undo function; it raises ``ImportError`` when the library is missing.
"""

from __future__ import annotations

# name -> (module, the pip extra that installs the library)
INTEGRATIONS: dict[str, tuple[str, str]] = {
    "openai": ("spanwise.integrations.openai", "openai"),
    "anthropic": ("spanwise.integrations.anthropic", "anthropic"),
    "litellm": ("spanwise.integrations.litellm", "litellm"),
    "llm": ("spanwise.integrations.llm_lib", "llm"),
}
