"""The SQLite embedding cache: hits cost no call, misses do, changed files are
re-embedded, other processes reuse it, it stays bounded and counts what it does."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from efficiency.helpers import CountingEmbedder, files, run_python
from spanwise.efficiency import EmbeddingCache, cache_key, default_cache_path, select_context


def test_a_miss_calls_the_embedder_and_a_hit_makes_no_call(
    embedder: CountingEmbedder, cache: EmbeddingCache
) -> None:
    first = select_context(files(), "embedding cache", 10_000, embedder=embedder, cache=cache)
    assert first.mode == "semantic"
    assert len(embedder.calls) == 1
    assert embedder.texts_embedded == len(files()) + 1  # every file and the query
    assert (first.embedding_cache_hits, first.embedding_cache_misses) == (0, 5)
    assert first.embedding_calls_made == 1

    second = select_context(files(), "embedding cache", 10_000, embedder=embedder, cache=cache)
    assert len(embedder.calls) == 1  # nothing new was embedded
    assert (second.embedding_cache_hits, second.embedding_cache_misses) == (5, 0)
    assert second.embedding_calls_made == 0
    assert second.mode == "semantic"
    assert second.ranking == first.ranking


def test_a_changed_file_is_re_embedded_and_only_that_file(
    embedder: CountingEmbedder, cache: EmbeddingCache
) -> None:
    f = files()
    select_context(f, "q", 10_000, embedder=embedder, cache=cache)
    f["src/http/client.py"] += "\n# edited\n"
    sel = select_context(f, "q", 10_000, embedder=embedder, cache=cache)
    assert len(embedder.calls) == 2
    assert len(embedder.calls[1]) == 1
    assert embedder.calls[1][0].startswith("Path: src/http/client.py")
    assert (sel.embedding_cache_hits, sel.embedding_cache_misses) == (4, 1)


def test_the_key_holds_model_and_dimensions(cache: EmbeddingCache) -> None:
    small = CountingEmbedder(model="m", dimensions=8)
    other_model = CountingEmbedder(model="m2", dimensions=8)
    other_dims = CountingEmbedder(model="m", dimensions=16)
    for e in (small, other_model, other_dims, small):
        select_context(files(), "q", 10_000, embedder=e, cache=cache)
    assert [len(e.calls) for e in (small, other_model, other_dims)] == [1, 1, 1]
    assert cache.stats().size == 3 * 5


def test_a_second_process_reuses_the_first_ones_cache(tmp_path: Path) -> None:
    home = tmp_path / "shared-home"
    code = """
import json
from efficiency.helpers import CountingEmbedder, files
from spanwise.efficiency import select_context, default_cache
e = CountingEmbedder()
sel = select_context(files(), "where are vectors cached", 10_000, embedder=e)
print(json.dumps({"calls": len(e.calls), "hits": sel.embedding_cache_hits,
                  "misses": sel.embedding_cache_misses, "first": sel.ranking[0],
                  "path": str(default_cache().path)}))
"""
    code = f"import sys; sys.path.insert(0, {str(Path(__file__).parents[1])!r})\n" + code
    first = json.loads(run_python(code, home))
    second = json.loads(run_python(code, home))
    assert first["calls"] == 1 and first["misses"] == 5
    assert second["calls"] == 0 and second["hits"] == 5 and second["misses"] == 0
    assert second["first"] == first["first"]
    assert first["path"] == str(home / "embeddings.db")


def test_the_default_cache_lives_under_spanwise_home(
    tmp_path: Path, embedder: CountingEmbedder
) -> None:
    select_context(files(), "q", 10_000, embedder=embedder)
    path = default_cache_path()
    assert path == tmp_path / "spanwise-home" / "embeddings.db"
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] == 5
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_cache_false_embeds_every_time(embedder: CountingEmbedder) -> None:
    for _ in range(2):
        sel = select_context(files(), "q", 10_000, embedder=embedder, cache=False)
    assert len(embedder.calls) == 2
    assert sel.embedding_cache_misses == 5


def test_bounded_least_recently_used_entries_go_first(tmp_path: Path) -> None:
    minute = 60_000_000_000
    now = [0]

    def tick() -> None:
        now[0] += 2 * minute

    cache = EmbeddingCache(tmp_path / "lru.db", max_entries=3, clock=lambda: now[0])
    keys = [cache_key(f"f{i}.py", f"content {i}", "m", 2) for i in range(4)]
    for i, key in enumerate(keys[:3]):
        tick()
        cache.put(key, [float(i), 1.0])
    tick()
    assert cache.get(keys[0]) == [0.0, 1.0]  # f0 is now the most recently used
    tick()
    cache.put(keys[3], [3.0, 1.0])  # evicts f1, the least recently used
    assert cache.get(keys[1]) is None
    assert cache.get(keys[0]) == [0.0, 1.0]
    assert cache.get(keys[3]) == [3.0, 1.0]
    stats = cache.stats()
    assert stats.size == 3 and stats.max_entries == 3
    assert (stats.hits, stats.misses, stats.stores, stats.evictions) == (3, 1, 4, 1)
    assert stats.hit_rate == 0.75
    cache.close()


def test_hits_within_a_minute_do_not_reorder(tmp_path: Path) -> None:
    now = [0]
    cache = EmbeddingCache(tmp_path / "lru.db", max_entries=2, clock=lambda: now[0])
    a, b, c = (cache_key(f"{n}.py", n, "m", 1) for n in "abc")
    cache.put(a, [1.0])
    now[0] += 1_000_000_000
    cache.put(b, [2.0])
    now[0] += 1_000_000_000
    assert cache.get(a) == [1.0]  # a was refreshed less than a minute ago: no write
    cache.put(c, [3.0])
    assert cache.get(a) is None and cache.get(b) == [2.0]
    cache.close()


def test_lifetime_counts_are_shared_by_every_cache_object_on_the_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    a, b = EmbeddingCache(path), EmbeddingCache(path)
    key = cache_key("x.py", "x", "m", 1)
    a.put(key, [1.0])
    assert b.get(key) == [1.0]
    assert b.get(cache_key("y.py", "y", "m", 1)) is None
    assert a.stats().hits == 0 and b.stats().hits == 1
    assert a.stats().lifetime == {"hits": 1, "misses": 1, "stores": 1, "evictions": 0}
    a.close()
    b.close()


def test_a_cache_that_cannot_be_opened_costs_calls_not_a_crash(
    tmp_path: Path, embedder: CountingEmbedder, internal_errors: object
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory should be")
    broken = EmbeddingCache(blocker / "embeddings.db")
    sel = select_context(files(), "q", 10_000, embedder=embedder, cache=broken)
    assert sel.mode == "semantic"
    assert len(embedder.calls) == 1
    assert [where for where, _ in internal_errors.items] == [  # type: ignore[attr-defined]
        "efficiency.cache_lookup",
        "efficiency.cache_store",
    ]
