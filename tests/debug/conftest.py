"""Fixtures for the debugging-toolkit tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from debug_helpers import Traced

import spanwise


@pytest.fixture(autouse=True)
def _fresh_lock_order_graph() -> Iterator[None]:
    """The lock-order graph and its reported cycles are process-wide: each test starts empty."""
    from spanwise.debug import _deadlock

    yield
    _deadlock.EDGES.clear()
    _deadlock._successors.clear()
    _deadlock._reported.clear()


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> Iterator[Traced]:
    home = Path(os.environ["SPANWISE_HOME"])
    spanwise.configure("trace", home=home)
    try:
        yield Traced(home)
    finally:
        spanwise.configure("off")
