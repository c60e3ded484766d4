"""Semantic relevance: cached embeddings, the per-phase call cap, cosine scores.

The cap (``max_embedding_calls``) limits embedding *calls* (one call of the embedder, a
batch of up to ``batch_size`` texts) per phase:

- ``0``  disables embeddings: ranking is lexical, ``fallback_reason="disabled"``.
- ``-1`` is unlimited.
- ``N``  allows at most N calls in the phase. A selection that would need more calls
  than are left makes none and ranks lexically with ``fallback_reason="cap_exceeded"``.
  Vectors already in the cache cost no call, so a fully cached selection stays
  semantic past the cap.

Default: ``DEFAULT_MAX_EMBEDDING_CALLS`` (100), or the ``SPANWISE_MAX_EMBEDDING_CALLS``
environment variable. Calls are counted per (run, phase) in this process; a selection
with no phase is a phase of its own. The query is embedded (and cached) like a file.
"""

from __future__ import annotations

import logging
import math
import operator
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spanwise import _internal
from spanwise._settings import ConfigError
from spanwise._span import span
from spanwise.efficiency._cache import CacheKey, EmbeddingCache, cache_key
from spanwise.efficiency._embedders import EmbedderError, call_embedder, embedder_identity

logger = logging.getLogger("spanwise.efficiency")

DEFAULT_MAX_EMBEDDING_CALLS = 100
CAP_ENV = "SPANWISE_MAX_EMBEDDING_CALLS"
UNLIMITED = -1
EMBED_CHARS_PER_FILE = 4_000
QUERY_PATH = "<query>"
_MAX_TRACKED_PHASES = 10_000


def resolve_cap(value: int | None) -> int:
    """The cap in force: the argument, else $SPANWISE_MAX_EMBEDDING_CALLS, else 100."""
    source = "max_embedding_calls"
    if value is None:
        raw = os.environ.get(CAP_ENV)
        if raw is None or not raw.strip():
            return DEFAULT_MAX_EMBEDDING_CALLS
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(
                f"invalid {CAP_ENV} {raw!r}: expected -1 (unlimited), 0 (off) or a positive int"
            ) from None
        source = CAP_ENV
    if isinstance(value, bool) or not isinstance(value, int) or value < UNLIMITED:
        raise ConfigError(
            f"invalid {source} {value!r}: expected -1 (unlimited), 0 (off) or a positive int"
        )
    return value


class _PhaseCalls:
    """Embedding calls made so far, per (run, phase), in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[tuple[str | None, str], int] = {}

    def get(self, key: tuple[str | None, str] | None) -> int:
        if key is None:
            return 0
        with self._lock:
            return self._calls.get(key, 0)

    def reserve(self, key: tuple[str | None, str] | None, n: int, cap: int) -> bool:
        """Take ``n`` calls from the phase's allowance, all or none (atomic across threads)."""
        with self._lock:
            used = self._calls.get(key, 0) if key is not None else 0
            if cap > 0 and used + n > cap:
                return False
            if key is not None and n:
                self._calls[key] = used + n
                if len(self._calls) > _MAX_TRACKED_PHASES:
                    del self._calls[next(iter(self._calls))]
            return True

    def release(self, key: tuple[str | None, str] | None, n: int) -> None:
        if key is None or n <= 0:
            return
        with self._lock:
            if key in self._calls:
                self._calls[key] = max(0, self._calls[key] - n)

    def reset(self, run: str | None = None, phase: str | None = None) -> None:
        with self._lock:
            if run is None and phase is None:
                self._calls.clear()
                return
            for key in [
                k
                for k in self._calls
                if (run is None or k[0] == run) and (phase is None or k[1] == phase)
            ]:
                del self._calls[key]


PHASE_CALLS = _PhaseCalls()


def reset_embedding_calls(run: str | None = None, phase: str | None = None) -> None:
    """Forget the embedding calls counted for a phase (all phases when both are None)."""
    PHASE_CALLS.reset(run, phase)


def embedding_calls_made(run: str | None, phase: str) -> int:
    """Embedding calls this process has made in (run, phase)."""
    return PHASE_CALLS.get((run, phase))


@dataclass
class SemanticResult:
    scores: dict[str, float] | None
    fallback_reason: str | None
    cache_hits: int = 0
    cache_misses: int = 0
    calls_made: int = 0
    cap: int = DEFAULT_MAX_EMBEDDING_CALLS


def embed_text(path: str, content: str) -> str:
    return f"Path: {path}\n\n{content[:EMBED_CHARS_PER_FILE]}"


def rank_semantic(
    candidates: Mapping[str, str],
    query: str,
    embedder: Any,
    cache: EmbeddingCache | None,
    cap: int,
    phase_key: tuple[str | None, str] | None,
) -> SemanticResult:
    """Cosine scores of ``candidates`` against ``query``, or the reason there are none."""
    result = SemanticResult(None, None, cap=cap)
    if cap == 0:
        result.fallback_reason = "disabled"
        return result
    model, dims, batch_size = embedder_identity(embedder)
    keys = {QUERY_PATH: cache_key(QUERY_PATH, query, model, dims)}
    texts = {QUERY_PATH: query}
    for path, content in candidates.items():
        keys[path] = cache_key(path, content, model, dims)
        texts[path] = embed_text(path, content)
    vectors = _lookup(cache, keys, model, result)
    missing = [p for p in keys if p not in vectors]
    needed = math.ceil(len(missing) / batch_size)
    if not PHASE_CALLS.reserve(phase_key, needed, cap):
        result.fallback_reason = "cap_exceeded"
        return result
    fresh: list[tuple[CacheKey, list[float]]] = []
    for start in range(0, len(missing), batch_size):
        batch = missing[start : start + batch_size]
        try:
            got = _embed_batch(embedder, [texts[p] for p in batch], model, dims, result)
        except EmbedderError as exc:
            logger.warning("embedder %s failed, ranking lexically: %s", model, exc)
            result.fallback_reason = "embedder_error"
            # The failed call counts; the calls that will not be made are given back.
            PHASE_CALLS.release(phase_key, needed - result.calls_made)
            return result
        for path, vector in zip(batch, got, strict=True):
            vectors[path] = vector
            fresh.append((keys[path], vector))
    _store(cache, fresh)
    query_vector = vectors[QUERY_PATH]
    result.scores = {path: _cosine(query_vector, vectors[path]) for path in candidates}
    return result


def _lookup(
    cache: EmbeddingCache | None, keys: dict[str, CacheKey], model: str, result: SemanticResult
) -> dict[str, Sequence[float]]:
    if cache is None:
        result.cache_misses = len(keys)
        return {}
    with span("embedding cache lookup", kind="embedding") as s:
        try:
            found = cache.get_many(list(keys.values()))
        except Exception as exc:  # noqa: BLE001 - a broken cache only costs calls
            _internal.report("efficiency.cache_lookup", exc)
            found = {}
        result.cache_hits = len(found)
        result.cache_misses = len(keys) - len(found)
        s.set_attributes(
            {
                "gen_ai.request.model": model,
                "efficiency.embedding_cache_hits": result.cache_hits,
                "efficiency.embedding_cache_misses": result.cache_misses,
            }
        )
    return {path: found[key] for path, key in keys.items() if key in found}


def _embed_batch(
    embedder: Any, texts: list[str], model: str, dims: int, result: SemanticResult
) -> list[list[float]]:
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.request.model": model,
        "efficiency.texts": len(texts),
    }
    provider = getattr(embedder, "provider", None)
    if isinstance(provider, str):
        attrs["gen_ai.provider.name"] = provider
    with span(f"embeddings {model}", kind="embedding", **attrs) as s:
        result.calls_made += 1
        try:
            vectors = call_embedder(embedder, texts, dims)
        except EmbedderError as exc:
            s.record_exception(exc)
            raise
        usage = getattr(embedder, "last_usage_tokens", None)
        if isinstance(usage, int):
            s.set_attribute("gen_ai.usage.input_tokens", usage)
        return vectors


def _store(cache: EmbeddingCache | None, fresh: list[tuple[CacheKey, list[float]]]) -> None:
    if cache is None or not fresh:
        return
    try:
        cache.put_many(fresh)
    except Exception as exc:  # noqa: BLE001 - vectors are still used; only the cache misses out
        _internal.report("efficiency.cache_store", exc)


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity; 0.0 for vectors of different lengths or zero norm."""
    if len(a) != len(b):
        return 0.0
    mul = operator.mul
    norms = math.sqrt(sum(map(mul, a, a)) * sum(map(mul, b, b)))
    return float(sum(map(mul, a, b)) / norms) if norms else 0.0
