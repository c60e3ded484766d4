"""``spanwise.instrument(name=None)``: record every call of an LLM library.

With a name (``"openai"``, ``"anthropic"``, ``"litellm"``, ``"llm"``) the library is
imported and patched now; a missing library raises ImportError with the pip command.
Without a name every *installed* integration is set up: a library already imported is
patched now, the others the moment the program imports them (an import hook), so
``spanwise.instrument()`` never pays for importing libraries the program does not use.

Instrumenting is idempotent; the handle's ``undo()`` removes what the call added (a
library instrumented again later is patched again). Only the standard library is
imported here.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from spanwise import _internal

_lock = threading.RLock()
_active: dict[str, Callable[[], None]] = {}  # name -> undo of its patches
_LIBRARY_MODULE = {"openai": "openai", "anthropic": "anthropic", "litellm": "litellm", "llm": "llm"}


class Instrumentation:
    """What ``instrument()`` returns: ``undo()`` removes the instrumentation it added."""

    def __init__(self, names: Sequence[str], deferred: Sequence[str] = ()) -> None:
        self.names = tuple(names)
        self.deferred = tuple(deferred)

    def undo(self) -> None:
        with _lock:
            for name in self.names + self.deferred:
                _HOOK.cancel(name)
                undo = _active.pop(name, None)
                if undo is not None:
                    try:
                        undo()
                    except Exception as exc:  # noqa: BLE001
                        _internal.report(f"instrument.undo {name}", exc)

    def __repr__(self) -> str:
        return f"<spanwise instrumentation {', '.join(self.names + self.deferred) or 'of nothing'}>"


def _integrations() -> dict[str, tuple[str, str]]:
    from spanwise.integrations import INTEGRATIONS

    return INTEGRATIONS


def instrument(name: str | None = None) -> Instrumentation:
    """Instrument one LLM library by name, or every installed one (see module doc)."""
    integrations = _integrations()
    if name is None:
        return _instrument_installed(integrations)
    if name not in integrations:
        raise ValueError(
            f"unknown integration {name!r}: expected one of {', '.join(sorted(integrations))}"
        )
    with _lock:
        if name not in _active:
            _active[name] = _load(name, integrations[name])
    return Instrumentation([name])


def _load(name: str, spec: tuple[str, str]) -> Callable[[], None]:
    module_name, extra = spec
    try:
        module = importlib.import_module(module_name)
        undo: Callable[[], None] = module.instrument()
    except ImportError as exc:
        missing = getattr(exc, "name", None) or name
        raise ImportError(
            f"spanwise.instrument({name!r}) needs the {missing!r} package: "
            f"pip install 'spanwise[{extra}]'",
            name=missing,
        ) from None
    return undo


def _instrument_installed(integrations: dict[str, tuple[str, str]]) -> Instrumentation:
    now, later = [], []
    with _lock:
        for name, (module_name, _extra) in integrations.items():
            library = _LIBRARY_MODULE.get(name, name)
            if name in _active or not _available(module_name, library):
                continue
            if library in sys.modules:
                try:
                    _active[name] = _load(name, integrations[name])
                    now.append(name)
                except Exception as exc:  # noqa: BLE001 - one library must not stop the rest
                    _internal.report(f"instrument {name}", exc)
            else:
                _HOOK.watch(library, name, _deferred_loader(name))
                later.append(name)
    return Instrumentation(now, later)


def _available(module_name: str, library: str) -> bool:
    import importlib.util

    try:
        return (
            importlib.util.find_spec(module_name) is not None
            and importlib.util.find_spec(library) is not None
        )
    except (ImportError, ValueError):
        return False


def _deferred_loader(name: str) -> Callable[[], None]:
    def load() -> None:
        with _lock:
            if name not in _active:
                _active[name] = _load(name, _integrations()[name])

    return load


def active() -> list[str]:
    """Names of the integrations patched right now."""
    with _lock:
        return sorted(_active)


class _PostImportHook:
    """Runs a callback right after a top-level module is first imported (a meta path
    finder that wraps the module's loader for that one import)."""

    def __init__(self) -> None:
        self.callbacks: dict[str, list[tuple[str, Callable[[], None]]]] = {}
        self._busy: set[str] = set()
        self._installed = False

    def watch(self, module: str, name: str, callback: Callable[[], None]) -> None:
        self.callbacks.setdefault(module, []).append((name, callback))
        if not self._installed:
            sys.meta_path.insert(0, self)  # type: ignore[arg-type]
            self._installed = True

    def cancel(self, name: str) -> None:
        for module, entries in list(self.callbacks.items()):
            entries[:] = [e for e in entries if e[0] != name]
            if not entries:
                del self.callbacks[module]
        if not self.callbacks and self._installed:
            try:
                sys.meta_path.remove(self)  # type: ignore[arg-type]
            except ValueError:
                pass
            self._installed = False

    # importlib's MetaPathFinder protocol
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in self.callbacks or fullname in self._busy:
            return None
        import importlib.util

        self._busy.add(fullname)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._busy.discard(fullname)
        loader = getattr(spec, "loader", None)
        if spec is None or loader is None or not hasattr(loader, "exec_module"):
            return spec
        entries = self.callbacks.pop(fullname)
        original = loader.exec_module

        def exec_module(module: Any) -> None:
            try:
                original(module)
            finally:
                try:
                    del loader.exec_module
                except AttributeError:
                    pass
            for name, callback in entries:
                try:
                    callback()
                except Exception as exc:  # noqa: BLE001 - never break the program's import
                    _internal.report(f"instrument {name} on import", exc)

        try:
            loader.exec_module = exec_module
        except (AttributeError, TypeError):
            self.callbacks[fullname] = entries
        if not self.callbacks:
            self.cancel("")
        return spec

    def invalidate_caches(self) -> None:
        return None


_HOOK = _PostImportHook()
