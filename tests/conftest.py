"""Project-wide test setup: every test gets its own SPANWISE_HOME, starts and ends with
spanwise off, and fails if spanwise swallowed an internal error during it (tests that
provoke one on purpose take the ``internal_errors`` fixture and assert on it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import spanwise
from spanwise import _internal


@pytest.fixture(autouse=True)
def _isolated_spanwise(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    home = tmp_path / "spanwise-home"
    monkeypatch.setenv("SPANWISE_HOME", str(home))
    for var in (
        "SPANWISE_MODE",
        "SPANWISE_STORE",
        "SPANWISE_SESSION",
        "SPANWISE_CAPTURE_CONTENT",
        "SPANWISE_OTLP_ENDPOINT",
        "SPANWISE_JSONL",
        "TRACEPARENT",
        "SPANWISE_TOKEN",
    ):
        monkeypatch.delenv(var, raising=False)
    spanwise.configure("off")
    yield
    spanwise.configure("off")


class InternalErrors:
    def __init__(self) -> None:
        self.items: list[tuple[str, BaseException]] = []
        self.expected = False


@pytest.fixture(autouse=True)
def _fail_on_internal_errors() -> Iterator[InternalErrors]:
    seen = InternalErrors()
    remove = _internal.add_hook(lambda where, exc: seen.items.append((where, exc)))
    yield seen
    remove()
    if seen.items and not seen.expected:
        where, exc = seen.items[0]
        pytest.fail(f"spanwise swallowed an internal error in {where}: {exc!r}", pytrace=False)


@pytest.fixture
def internal_errors(_fail_on_internal_errors: InternalErrors) -> InternalErrors:
    """Declare that this test provokes internal errors; inspect them via ``.items``."""
    _fail_on_internal_errors.expected = True
    return _fail_on_internal_errors
