"""Reversible patches of a library's public callables (methods of its resource classes,
functions of its modules).

A patch replaces the attribute with a wrapper and returns an undo. Undo restores the
original when the attribute still holds our wrapper; when someone wrapped it again on
top of ours, the wrapper is switched off instead (it then calls straight through), so
their wrapper keeps working. Patching an attribute that already holds a spanwise
wrapper does nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

Undo = Callable[[], None]
# make_wrapper(original, is_on) -> wrapper; is_on() turns False after undo.
WrapperFactory = Callable[[Callable[..., Any], Callable[[], bool]], Callable[..., Any]]

ORIGINAL_ATTR = "__spanwise_original__"


def patch(owner: Any, name: str, make_wrapper: WrapperFactory) -> Undo:
    """Wrap ``owner.name`` (a class or a module attribute) and return its undo."""
    original = vars(owner).get(name)
    if original is None or getattr(original, ORIGINAL_ATTR, None) is not None:
        return _noop
    state = [True]
    wrapper = make_wrapper(original, lambda: state[0])
    functools.update_wrapper(wrapper, original)
    setattr(wrapper, ORIGINAL_ATTR, original)
    setattr(owner, name, wrapper)

    def undo() -> None:
        state[0] = False
        if vars(owner).get(name) is wrapper:
            setattr(owner, name, original)

    return undo


def combine(undos: list[Undo]) -> Undo:
    """One undo for many patches, applied in reverse order; running it twice is harmless."""
    pending = list(undos)

    def undo_all() -> None:
        while pending:
            pending.pop()()

    return undo_all


def _noop() -> None:
    return None
