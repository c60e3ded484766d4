"""Fixtures for the debugging-toolkit tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from debug_helpers import Traced

import spanwise


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> Iterator[Traced]:
    home = Path(os.environ["SPANWISE_HOME"])
    spanwise.configure("trace", home=home)
    try:
        yield Traced(home)
    finally:
        spanwise.configure("off")
