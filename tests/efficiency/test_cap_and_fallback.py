"""The per-phase embedding call cap and every fallback to lexical ranking."""

from __future__ import annotations

import logging

import pytest

from efficiency.helpers import CountingEmbedder, files
from spanwise import ConfigError
from spanwise.efficiency import (
    DEFAULT_MAX_EMBEDDING_CALLS,
    EmbeddingCache,
    FunctionEmbedder,
    embedding_calls_made,
    reset_embedding_calls,
    select_context,
)

QUERY = "where are embedding vectors cached"


def test_cap_zero_disables_embeddings(embedder: CountingEmbedder, cache: EmbeddingCache) -> None:
    sel = select_context(
        files(), QUERY, 10_000, embedder=embedder, cache=cache, max_embedding_calls=0
    )
    assert (sel.mode, sel.fallback_reason) == ("lexical", "disabled")
    assert embedder.calls == []
    assert sel.embedding_cap == 0
    assert (sel.embedding_cache_hits, sel.embedding_cache_misses) == (0, 0)
    assert cache.stats().lifetime["misses"] == 0  # not even looked up
    assert sel.ranking[0] == "src/cache/embedding_cache.py"  # BM25 still ranks


def test_cap_n_reached_falls_back_with_cap_exceeded(
    embedder: CountingEmbedder, cache: EmbeddingCache
) -> None:
    f = files()
    first = select_context(
        f, QUERY, 10_000, embedder=embedder, cache=cache, phase="p1", run="r", max_embedding_calls=1
    )
    assert first.mode == "semantic" and first.embedding_calls_made == 1
    assert embedding_calls_made("r", "p1") == 1

    f["docs/intro.md"] += " changed"  # needs one more call: over the cap of 1
    second = select_context(
        f, QUERY, 10_000, embedder=embedder, cache=cache, phase="p1", run="r", max_embedding_calls=1
    )
    assert (second.mode, second.fallback_reason) == ("lexical", "cap_exceeded")
    assert len(embedder.calls) == 1  # the call that would pass the cap was never made
    assert second.embedding_calls_made == 0
    assert second.embedding_cap == 1

    # Fully cached selections cost no call, so they stay semantic past the cap.
    cached = select_context(
        files(),
        QUERY,
        10_000,
        embedder=embedder,
        cache=cache,
        phase="p1",
        run="r",
        max_embedding_calls=1,
    )
    assert (cached.mode, cached.fallback_reason) == ("semantic", None)

    # Another phase has its own allowance.
    other = select_context(
        f, QUERY, 10_000, embedder=embedder, cache=cache, phase="p2", run="r", max_embedding_calls=1
    )
    assert other.mode == "semantic"


def test_a_selection_needing_more_calls_than_allowed_makes_none(cache: EmbeddingCache) -> None:
    small_batches = CountingEmbedder(batch_size=2)  # 5 texts → 3 calls
    sel = select_context(
        files(),
        QUERY,
        10_000,
        embedder=small_batches,
        cache=cache,
        phase="p",
        max_embedding_calls=2,
    )
    assert sel.fallback_reason == "cap_exceeded"
    assert small_batches.calls == []
    ok = select_context(
        files(),
        QUERY,
        10_000,
        embedder=small_batches,
        cache=cache,
        phase="p",
        max_embedding_calls=3,
    )
    assert ok.mode == "semantic" and ok.embedding_calls_made == 3
    assert [len(c) for c in small_batches.calls] == [2, 2, 1]


def test_minus_one_is_unlimited(cache: EmbeddingCache) -> None:
    one_per_call = CountingEmbedder(batch_size=1)
    sel = select_context(
        files(),
        QUERY,
        10_000,
        embedder=one_per_call,
        cache=cache,
        phase="p",
        max_embedding_calls=-1,
    )
    assert sel.mode == "semantic" and sel.embedding_calls_made == 5
    assert sel.embedding_cap == -1


def test_the_default_cap_and_its_environment_override(
    monkeypatch: pytest.MonkeyPatch, embedder: CountingEmbedder, cache: EmbeddingCache
) -> None:
    sel = select_context(files(), QUERY, 10_000, embedder=embedder, cache=cache)
    assert sel.embedding_cap == DEFAULT_MAX_EMBEDDING_CALLS == 100
    monkeypatch.setenv("SPANWISE_MAX_EMBEDDING_CALLS", "0")
    sel = select_context(files(), QUERY, 10_000, embedder=embedder, cache=cache)
    assert (sel.fallback_reason, sel.embedding_cap) == ("disabled", 0)
    monkeypatch.setenv("SPANWISE_MAX_EMBEDDING_CALLS", "lots")
    with pytest.raises(ConfigError, match="invalid SPANWISE_MAX_EMBEDDING_CALLS 'lots'"):
        select_context(files(), QUERY, 10_000, embedder=embedder, cache=cache)


def test_reset_gives_a_phase_its_allowance_back(cache: EmbeddingCache) -> None:
    e = CountingEmbedder()
    select_context(files(), QUERY, 10_000, embedder=e, cache=cache, phase="p", run="r")
    assert embedding_calls_made("r", "p") == 1
    reset_embedding_calls(run="r", phase="p")
    assert embedding_calls_made("r", "p") == 0


def test_an_embedder_that_raises_means_lexical_with_embedder_error(
    cache: EmbeddingCache, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(texts: list[str]) -> list[list[float]]:
        raise ConnectionError("provider unreachable")

    with caplog.at_level(logging.WARNING, logger="spanwise.efficiency"):
        sel = select_context(
            files(),
            QUERY,
            10_000,
            phase="p",
            cache=cache,
            embedder=FunctionEmbedder(broken, model="broken"),
        )
    assert (sel.mode, sel.fallback_reason) == ("lexical", "embedder_error")
    assert sel.ranking[0] == "src/cache/embedding_cache.py"
    assert sel.embedding_calls_made == 1  # the failed call counts against the cap
    assert embedding_calls_made(None, "p") == 1
    assert "provider unreachable" in caplog.text


@pytest.mark.parametrize(
    "answer",
    [
        lambda texts: [[1.0, 0.0]],  # too few vectors
        lambda texts: [[1.0, 0.0] if i else [1.0] for i in range(len(texts))],  # ragged
        lambda texts: [[float("nan"), 1.0] for _ in texts],
        lambda texts: [["not", "numbers"] for _ in texts],
        lambda texts: None,
    ],
)
def test_a_malformed_answer_is_an_embedder_error(answer: object, cache: EmbeddingCache) -> None:
    sel = select_context(
        files(),
        QUERY,
        10_000,
        cache=cache,
        embedder=FunctionEmbedder(answer, model="malformed"),  # type: ignore[arg-type]
    )
    assert sel.fallback_reason == "embedder_error"
    assert sel.mode == "lexical"
    assert cache.stats().size == 0  # nothing bad was cached


def test_declared_dimensions_are_checked(cache: EmbeddingCache) -> None:
    liar = CountingEmbedder(dimensions=16)
    liar.dimensions = 8  # declares 8, answers 16
    liar_call = liar.__call__

    def answer(texts: list[str]) -> list[list[float]]:
        return [v + v for v in liar_call(texts)]

    sel = select_context(
        files(),
        QUERY,
        10_000,
        cache=cache,
        embedder=FunctionEmbedder(answer, model="liar", dimensions=8),
    )
    assert sel.fallback_reason == "embedder_error"


def test_a_plain_function_is_an_embedder(cache: EmbeddingCache) -> None:
    def embed(texts: list[str]) -> list[list[float]]:
        return [[float("cache" in t), 1.0] for t in texts]

    sel = select_context(files(), "cache", 10_000, embedder=embed, cache=cache)
    assert sel.mode == "semantic"
    assert sel.ranking[0] == "src/cache/embedding_cache.py"


def test_threads_sharing_a_phase_never_exceed_its_cap() -> None:
    import threading

    e = CountingEmbedder()
    lock = threading.Lock()
    reasons: list[str | None] = []
    start = threading.Barrier(8)

    def work(i: int) -> None:
        start.wait()
        sel = select_context(
            {f"t{i}.py": f"thread {i} file"},
            QUERY,
            100,
            embedder=e,
            cache=False,
            phase="shared",
            run="r",
            max_embedding_calls=3,
        )
        with lock:
            reasons.append(sel.fallback_reason)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(e.calls) == 3 == embedding_calls_made("r", "shared")
    assert sorted(reasons, key=str) == [None] * 3 + ["cap_exceeded"] * 5
