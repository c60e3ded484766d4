"""Token efficiency: lexical context selection over 5,000 files (50 MB) and warm
embedding-cache lookups, against the targets of ≤ 1 s and ≤ 50 µs per file.

    .venv/bin/python bench/efficiency_select.py [--quick]
"""

from __future__ import annotations

import os
import random
import statistics
import string
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import git_rev, write_section
from spanwise.efficiency import EmbeddingCache, cache_key, select_context

QUICK = "--quick" in sys.argv
ROUNDS = 3 if QUICK else 7
N_FILES = 5_000
FILE_CHARS = 10_000
DIMS = 384
QUERY = "add a persistent embedding cache and rank files for the token budget by relevance"

WORDS = [
    "token",
    "budget",
    "cache",
    "embedding",
    "vector",
    "score",
    "rank",
    "query",
    "file",
    "path",
    "config",
    "request",
    "response",
    "client",
    "server",
    "span",
    "trace",
    "error",
    "index",
    "node",
    "value",
    "result",
    "store",
    "write",
    "read",
    "model",
    "prompt",
    "phase",
    "run",
    "metric",
]


def corpus(seed: int = 7) -> dict[str, str]:
    """5,000 code-like files of 10,000 characters (50 MB), the same every run."""
    rng = random.Random(seed)
    vocab = WORDS + [
        "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 10)))
        for _ in range(3_000)
    ]
    files = {}
    for i in range(N_FILES):
        lines, size = [], 0
        while size < FILE_CHARS:
            w = [rng.choice(vocab) for _ in range(rng.randint(3, 8))]
            style = rng.random()
            if style < 0.3:
                line = f"    {'_'.join(w[:3])} = {'.'.join(w[3:])}()"
            elif style < 0.5:
                line = f"def {w[0]}{w[1].capitalize()}({', '.join(w[2:])}):"
            else:
                line = "    # " + " ".join(w)
            lines.append(line)
            size += len(line) + 1
        files[f"src/pkg{i % 50}/module_{i}.py"] = "\n".join(lines)[:FILE_CHARS]
    return files


def timed(fn: object, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    files = corpus()
    total_mb = sum(map(len, files.values())) / 1e6
    pinned = ["src/pkg0/module_0.py", "src/pkg1/module_1.py"]

    def lexical() -> None:
        select_context(files, QUERY, 200_000, pinned=pinned)

    lex = timed(lexical, ROUNDS)
    sel = select_context(files, QUERY, 200_000, pinned=pinned)

    with tempfile.TemporaryDirectory() as tmp:
        cache = EmbeddingCache(Path(tmp) / "embeddings.db", max_entries=N_FILES + 10)
        rng = random.Random(1)
        keys = [cache_key(p, c, "bench-model", DIMS) for p, c in files.items()]
        vectors = [[rng.random() for _ in range(DIMS)] for _ in range(len(keys))]
        cache.put_many(list(zip(keys, vectors, strict=True)))

        def warm_batch() -> None:
            ks = [cache_key(p, c, "bench-model", DIMS) for p, c in files.items()]
            found = cache.get_many(ks)
            assert len(found) == N_FILES

        batch = timed(warm_batch, ROUNDS)
        singles = []
        for path, content in list(files.items())[:500]:
            start = time.perf_counter()
            assert cache.get(cache_key(path, content, "bench-model", DIMS)) is not None
            singles.append(time.perf_counter() - start)

        class NeverCalled:
            model, dimensions = "bench-model", DIMS

            def __call__(self, texts: list[str]) -> list[list[float]]:
                raise AssertionError("the cache was warm")

        query_key = cache_key("<query>", QUERY, "bench-model", DIMS)
        cache.put(query_key, vectors[0])

        def semantic_warm() -> None:
            s = select_context(files, QUERY, 200_000, embedder=NeverCalled(), cache=cache)
            assert s.mode == "semantic" and s.embedding_calls_made == 0

        sem = timed(semantic_warm, max(3, ROUNDS // 2))
        cache.close()

    load = os.getloadavg()[0]
    lex_s = statistics.median(lex)
    per_file_us = statistics.median(batch) / N_FILES * 1e6
    single_us = statistics.median(singles) * 1e6
    body = f"""
Command: `.venv/bin/python bench/efficiency_select.py` (git {git_rev()}); median of {ROUNDS}
rounds. Corpus: {N_FILES:,} generated code-like files, {total_mb:.1f} MB; query of
{len(QUERY.split())} words; budget 200,000 tokens (chars ÷ 4); 2 pinned files. The 1-minute
load average was {load:.1f} when the run ended (other work shares the 2 cores: expect noise).

| measurement | result | target |
| --- | --- | --- |
| lexical `select_context` (BM25 over every file, estimates, fill) | **{lex_s:.3f} s** (min {min(lex):.3f}, max {max(lex):.3f}) | ≤ 1 s |
| warm cache lookup, batch of {N_FILES:,} (SHA-256 of each file's content, key, SQLite read, float32 decode) | **{per_file_us:.1f} µs per file** ({statistics.median(batch) * 1e3:.0f} ms in all) | ≤ 50 µs per file |
| warm cache lookup, one file per call | {single_us:.0f} µs per call (median of 500) | — |
| semantic `select_context`, every vector cached ({DIMS} dims, pure-Python cosine) | {statistics.median(sem):.3f} s | — |

The selection kept {sel.files_kept_count:,} files and omitted {sel.files_omitted_count:,}
({sel.used_tokens_est:,} of 200,000 tokens). BM25 looks only for the query's terms in each
file (`str.find` on the lowercased text plus a word-boundary check), so its cost grows with
corpus size and the number of query terms, not with vocabulary size. Warm lookups are plain
reads: a lookup writes only to refresh LRU positions older than a minute or to flush the
file's lifetime counters (at most once a minute).
"""
    print(body)
    write_section("efficiency", "Token efficiency: context selection and embedding cache", body)


if __name__ == "__main__":
    main()
