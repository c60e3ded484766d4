"""Fixtures for the LLM integration tests: the local provider server, spanwise recording
into memory or into a real SQLite store, and instrumentation that is undone after each
test."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# litellm fetches its price map from GitHub at import unless told to use its bundled copy.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from fake_providers import FakeProviderServer

import spanwise
from spanwise.testing import InMemoryExporter


@pytest.fixture(scope="session")
def provider() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as server:
        yield server


class Recorded:
    """spanwise in trace mode with an in-memory sink (processors, pricing included)."""

    def __init__(self, exporter: InMemoryExporter) -> None:
        self.exporter = exporter

    @property
    def spans(self) -> list[Any]:
        spanwise.flush()
        return self.exporter.spans

    @property
    def llm_spans(self) -> list[Any]:
        return [s for s in self.spans if s.kind == "llm"]

    def one_call(self) -> Any:
        calls = self.llm_spans
        assert len(calls) == 1, f"expected one LLM span, got {[s.name for s in calls]}"
        return calls[0]


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[Recorded]:
    exporter = InMemoryExporter()
    spanwise.configure("trace", home=tmp_path / "home", exporters=[exporter])
    yield Recorded(exporter)
    spanwise.configure("off")


class Store:
    """spanwise in trace mode writing to a real SQLite store under ``home``."""

    def __init__(self, home: Path) -> None:
        self.home = home

    @property
    def path(self) -> Path:
        return self.home / "spanwise.db"

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        spanwise.flush()
        con = sqlite3.connect(self.path)
        con.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in con.execute(sql, params)]
        finally:
            con.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    home = tmp_path / "home"
    spanwise.configure("trace", home=home)
    yield Store(home)
    spanwise.configure("off")


@pytest.fixture
def instrumented() -> Iterator[Any]:
    """``instrumented("openai", …)`` instruments for the rest of the test."""
    handles: list[Any] = []

    def instrument(*names: str) -> None:
        for name in names:
            handles.append(spanwise.instrument(name))

    yield instrument
    for handle in handles:
        handle.undo()
