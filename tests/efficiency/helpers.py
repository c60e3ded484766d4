"""Helpers for the efficiency tests."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

DIMS = 32


def bag_of_words(text: str, dims: int = DIMS) -> list[float]:
    """A deterministic vector: word counts hashed into ``dims`` buckets."""
    vector = [0.0] * dims
    for word in re.findall(r"[a-z]+", text.lower()):
        bucket = int(hashlib.md5(word.encode()).hexdigest()[:8], 16) % dims
        vector[bucket] += 1.0
    return vector


class CountingEmbedder:
    """Records every call; answers with bag-of-words vectors."""

    def __init__(self, model: str = "test-bow", dimensions: int = DIMS, batch_size: int = 128):
        self.model = model
        self.dimensions = dimensions
        self.batch_size = batch_size
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return [bag_of_words(t, self.dimensions) for t in texts]

    @property
    def texts_embedded(self) -> int:
        return sum(len(c) for c in self.calls)


FILES: dict[str, str] = {
    "src/cache/embedding_cache.py": (
        "class EmbeddingCache:\n"
        "    '''Stores embedding vectors in sqlite, evicts least recently used.'''\n"
        "    def lookup(self, key): return self.db.get(key)\n" * 3
    ),
    "src/http/client.py": "def fetch(url):\n    '''HTTP GET with retries and timeouts.'''\n" * 8,
    "src/budget/tokens.py": "def estimate_tokens(text):\n    return len(text) // 4\n" * 6,
    "docs/intro.md": "Welcome to the project. It observes LLM applications.\n" * 10,
}


def files() -> dict[str, str]:
    return dict(FILES)


def run_python(code: str, env_home: Path) -> str:
    """Run ``code`` in a fresh interpreter with SPANWISE_HOME=env_home; return its stdout."""
    env = dict(os.environ, SPANWISE_HOME=str(env_home))
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
