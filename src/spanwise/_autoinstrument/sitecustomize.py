"""Run by Python at start-up in a ``spanwise exec`` child (this directory is first on
``PYTHONPATH``): instrument every installed LLM library, then run the ``sitecustomize``
this module shadows, if there is one, exactly as Python would have.

Libraries not yet imported are instrumented when the program imports them, so start-up
does not pay for importing them. A child whose Python cannot import spanwise runs as if
nothing happened.
"""

from __future__ import annotations

import importlib
import os
import sys


def _instrument() -> None:
    if os.environ.get("SPANWISE_AUTOINSTRUMENT") != "1":
        return
    try:
        import spanwise
    except ImportError:
        return
    try:
        spanwise.instrument()
    except Exception as exc:  # noqa: BLE001 - the program must start regardless
        sys.stderr.write(f"spanwise: auto-instrumentation failed: {exc}\n")


def _run_shadowed() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    this = sys.modules.get(__name__)
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    sys.modules.pop(__name__, None)
    try:
        importlib.import_module("sitecustomize")
    except ImportError as exc:
        if exc.name != "sitecustomize":
            raise
        if this is not None:
            sys.modules[__name__] = this
    finally:
        sys.path[:] = saved


_instrument()
_run_shadowed()
