"""Fixtures for the dashboard, ingest and retention tests: stores with sample data, the
app in-process (FastAPI's TestClient speaks HTTP to it through its ASGI seam) and
``spanwise serve`` as a real server process on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.helpers import LiveServer, record_sample, sqlite_url
from spanwise.server import ServerConfig, create_app


@pytest.fixture
def sample_store(tmp_path: Path) -> str:
    """A SQLite store holding the sample traces (see ``record_sample``)."""
    home = tmp_path / "sample-home"
    record_sample(home)
    return sqlite_url(home)


@pytest.fixture
def empty_store(tmp_path: Path) -> str:
    return sqlite_url(tmp_path / "empty-home")


def make_client(store: str, **config: object) -> TestClient:
    app = create_app(ServerConfig(store_url=store, **config))  # type: ignore[arg-type]
    return TestClient(app, base_url="http://127.0.0.1:7842")


@pytest.fixture
def client(sample_store: str) -> Iterator[TestClient]:
    with make_client(sample_store) as c:
        yield c


@pytest.fixture
def empty_client(empty_store: str) -> Iterator[TestClient]:
    with make_client(empty_store) as c:
        yield c


@pytest.fixture
def live_server(sample_store: str) -> Iterator[LiveServer]:
    server = LiveServer(sample_store)
    try:
        yield server
    finally:
        server.stop()
