"""Token estimates (chars ÷ 4 by default, tiktoken only from local files) and BM25."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from spanwise.efficiency import (
    bm25_scores,
    estimate_tokens,
    exact_estimator,
    query_terms,
    select_context,
    tiktoken_data_available,
)
from spanwise.efficiency._bm25 import count_term

CL100K_URL_SHA1 = "9b5ad71b2ce5302211f9c61530b329a4922fc6a4"  # tiktoken's cache file name


def test_chars_over_four_rounds_up() -> None:
    assert [estimate_tokens(t) for t in ("", "a", "abcd", "abcde", "x" * 400)] == [0, 1, 1, 2, 100]


def test_without_local_data_there_is_no_exact_estimator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "empty"))
    assert tiktoken_data_available() is False
    assert exact_estimator() is None
    sel = select_context({"a.py": "x" * 40}, "q", 100, estimator="auto")
    assert sel.estimator == "chars/4" and sel.used_tokens_est == 10
    with pytest.raises(ValueError, match="not available offline"):
        select_context({"a.py": "x"}, "q", 100, estimator="tiktoken")


def bundled_cl100k() -> Path:
    """A cl100k_base BPE file already on this machine (litellm ships one)."""
    spec = importlib.util.find_spec("litellm")
    assert spec is not None and spec.origin is not None, "litellm (dev extra) is not installed"
    return Path(spec.origin).parent / "litellm_core_utils" / "tokenizers" / CL100K_URL_SHA1


def test_with_local_data_the_exact_tokenizer_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_dir = tmp_path / "tiktoken-cache"
    cache_dir.mkdir()
    shutil.copy(bundled_cl100k(), cache_dir / CL100K_URL_SHA1)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache_dir))
    assert tiktoken_data_available("cl100k_base")
    exact = exact_estimator()
    assert exact is not None
    japanese = "日本語のテキストはトークンが多い。" * 10
    assert exact("hello world") == 2
    assert exact(japanese) > 2 * estimate_tokens(japanese)  # chars/4 under-counts CJK
    sel = select_context({"a.py": japanese}, "q", 10_000, estimator="auto")
    assert sel.estimator == "tiktoken:cl100k_base" and sel.used_tokens_est == exact(japanese)


def test_a_corrupt_local_file_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache_dir = tmp_path / "tiktoken-cache"
    cache_dir.mkdir()
    (cache_dir / CL100K_URL_SHA1).write_bytes(b"not a bpe file")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache_dir))
    # tiktoken would delete it and download a fresh one: spanwise refuses instead.
    assert tiktoken_data_available() is False
    assert (cache_dir / CL100K_URL_SHA1).read_bytes() == b"not a bpe file"


@pytest.mark.parametrize(
    ("text", "term", "count"),
    [
        ("tokenBudget token_budget TOKEN_BUDGET token-budget", "budget", 4),
        ("tokens token Tokens retoken tokenize", "token", 3),
        ("HTTPServer http_server", "server", 2),
        ("queries Query quer", "query", 2),
        ("classes class classic", "class", 2),
        ("cache", "cache", 1),
    ],
)
def test_terms_match_words_and_identifier_parts(text: str, term: str, count: int) -> None:
    assert count_term(text, text.lower(), term) == count


def test_query_terms_drop_short_and_common_words_and_fold_plurals() -> None:
    assert query_terms("Add the caches for all of the HTTP queries, in ui") == [
        "cache",
        "http",
        "query",
    ]


def test_bm25_ranks_by_term_rarity_frequency_and_path() -> None:
    docs = {
        "src/retry.py": "def retry(fn): backoff and retry with jitter",
        "src/misc.py": "retry " + "other words " * 50,
        "src/jitter_tools.py": "nothing relevant",
        "src/empty.py": "",
    }
    scores = bm25_scores(docs, "retry jitter")
    assert scores["src/retry.py"] > scores["src/misc.py"] > 0
    assert scores["src/jitter_tools.py"] > 0  # a path term counts
    assert scores["src/empty.py"] == 0.0
    assert bm25_scores(docs, "the and of") == dict.fromkeys(docs, 0.0)
