"""Fixtures for the efficiency tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from efficiency.helpers import CountingEmbedder
from spanwise.efficiency import EmbeddingCache, reset_embedding_calls


@pytest.fixture
def embedder() -> CountingEmbedder:
    return CountingEmbedder()


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[EmbeddingCache]:
    c = EmbeddingCache(tmp_path / "embeddings.db")
    yield c
    c.close()


@pytest.fixture(autouse=True)
def _fresh_phase_counts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("SPANWISE_MAX_EMBEDDING_CALLS", raising=False)
    reset_embedding_calls()
    yield
    reset_embedding_calls()
