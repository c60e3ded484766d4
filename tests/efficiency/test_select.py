"""select_context: pinned files, priorities, relevance, greedy fill, artifacts, bad input."""

from __future__ import annotations

import pytest

from efficiency.helpers import files
from spanwise.efficiency import find_artifacts, select_context


def sized(**tokens: int) -> dict[str, str]:
    """Files whose chars/4 estimate is exactly the given number of tokens."""
    return {f"{name}.py": "abcd" * n for name, n in tokens.items()}


def test_pinned_files_are_kept_even_when_they_alone_exceed_the_budget() -> None:
    f = sized(big_deliverable=500, other=10)
    sel = select_context(f, "anything", 100, pinned=["big_deliverable.py"])
    assert list(sel.kept) == ["big_deliverable.py"]
    assert sel.over_budget is True
    assert sel.used_tokens_est == 500
    assert sel.omitted == ["other.py"]
    assert sel.deliverables_count == 1


def test_pinned_files_within_budget_leave_the_rest_for_ranked_files() -> None:
    f = sized(deliverable=40, a=30, b=30, c=30)
    sel = select_context(f, "x", 100, pinned=["deliverable.py"])
    assert sel.over_budget is False
    assert next(iter(sel.kept)) == "deliverable.py"
    assert sel.files_kept_count == 3
    assert sel.files_omitted_count == 1
    assert sel.used_tokens_est == 100


def test_greedy_fill_skips_a_file_that_does_not_fit_and_takes_smaller_ones_after_it() -> None:
    f = sized(first=50, huge=400, small1=20, small2=25)
    # Priorities fix the order: first, huge, small1, small2.
    prio = {"first.py": 0, "huge.py": 1, "small1.py": 2, "small2.py": 3}
    sel = select_context(f, "x", 100, priorities=prio)
    assert sel.ranking == ("first.py", "huge.py", "small1.py", "small2.py")
    assert list(sel.kept) == ["first.py", "small1.py", "small2.py"]
    assert sel.omitted == ["huge.py"]
    assert sel.used_tokens_est == 95


def test_priority_beats_relevance_and_relevance_beats_size() -> None:
    f = {
        "unlisted_relevant.py": "retry backoff retry backoff " * 5,
        "prioritized.py": "unrelated words here " * 5,
        "relevant_small.py": "retry backoff",
        "relevant_big.py": "retry backoff " + "filler " * 50,
        "irrelevant_tiny.py": "zzz",
    }
    sel = select_context(f, "retry with backoff", 10_000, priorities={"prioritized.py": 1})
    assert sel.ranking[0] == "prioritized.py"
    # Unprioritized files follow by BM25 relevance; the irrelevant one is last.
    assert sel.ranking[-1] == "irrelevant_tiny.py"
    assert sel.scores["unlisted_relevant.py"] > sel.scores["relevant_big.py"]
    assert sel.mode == "lexical" and sel.fallback_reason is None


def test_equal_relevance_prefers_the_smaller_file() -> None:
    f = {"b_big.py": "x " * 400, "a_small.py": "y " * 10}
    sel = select_context(f, "nothing matches", 10_000)
    assert sel.ranking == ("a_small.py", "b_big.py")


def test_lexical_ranking_puts_the_relevant_file_first() -> None:
    sel = select_context(files(), "where are embedding vectors cached and evicted", 10_000)
    assert sel.ranking[0] == "src/cache/embedding_cache.py"


def test_an_artifact_replaces_a_file_only_when_it_is_smaller() -> None:
    f = sized(summarized=300, tiny=5, pinned_one=50)
    artifacts = {
        "summarized.py": "short summary",  # 4 tokens instead of 300
        "tiny.py": "an artifact longer than the file itself, so never used",
        "pinned_one.py": "pinned files are never replaced",
    }
    sel = select_context(f, "x", 1_000, pinned=["pinned_one.py"], artifacts=artifacts)
    assert sel.kept["summarized.py"] == "short summary"
    assert sel.sources == {"pinned_one.py": "full", "summarized.py": "artifact", "tiny.py": "full"}
    assert sel.kept["tiny.py"] == f["tiny.py"]
    assert sel.kept["pinned_one.py"] == f["pinned_one.py"]
    assert sel.artifact_substitutions_count == 1
    assert sel.artifact_tokens_used_est == 4
    assert sel.fullfile_tokens_avoided_est == 296
    assert sel.substituted_paths == ("summarized.py",)
    assert sel.used_tokens_est == 50 + 4 + 5


def test_artifacts_let_more_files_fit_and_omitted_files_count_as_no_savings() -> None:
    f = sized(a=100, b=100, c=100)
    artifacts = {"a.py": "abcd" * 10, "b.py": "abcd" * 10, "c.py": "abcd" * 90}
    sel = select_context(f, "x", 60, artifacts=artifacts)
    assert set(sel.kept) == {"a.py", "b.py"}
    assert sel.omitted == ["c.py"]
    assert sel.fullfile_tokens_avoided_est == 180  # only kept files count


def test_find_artifacts_takes_the_first_document_that_mentions_the_path() -> None:
    docs = {
        "phase_02.md": "Changed src/a.py to add retries.",
        "phase_01.md": "Created src/a.py and src/b.py.",
    }
    found = find_artifacts(["src/a.py", "src/b.py", "src/c.py"], docs)
    assert found == {"src/a.py": docs["phase_02.md"], "src/b.py": docs["phase_01.md"]}


def test_substituted_paths_are_capped_at_ten() -> None:
    f = {f"f{i:02}.py": "abcd" * 100 for i in range(15)}
    sel = select_context(f, "x", 10_000, artifacts={p: "sum" for p in f})
    assert sel.artifact_substitutions_count == 15
    assert len(sel.substituted_paths) == 10
    assert sel.metrics()["substituted_paths"] == list(sel.substituted_paths)


def test_a_custom_estimator_is_used() -> None:
    f = {"a.py": "one two three", "b.py": "four"}
    words = lambda text: len(text.split())  # noqa: E731 - a one-line estimator
    sel = select_context(f, "x", 3, estimator=words)
    assert sel.used_tokens_est == 1 and list(sel.kept) == ["b.py"]
    assert sel.omitted == ["a.py"]


def test_empty_files_and_zero_budget() -> None:
    sel = select_context({}, "q", 0)
    assert sel.kept == {} and sel.omitted == [] and sel.used_tokens_est == 0
    sel = select_context(sized(a=1), "q", 0)
    assert sel.omitted == ["a.py"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"budget_tokens": -1}, "budget_tokens must be a non-negative int"),
        ({"budget_tokens": 1.5}, "budget_tokens must be a non-negative int"),
        ({"pinned": ["missing.py"]}, "pinned file 'missing.py' is not in files"),
        ({"pinned": "a.py"}, "pinned must be a collection of paths"),
        ({"priorities": {"a.py": "high"}}, "priority of 'a.py' must be an int"),
        ({"estimator": "words"}, "unknown estimator 'words'"),
        ({"max_embedding_calls": -2, "embedder": lambda t: t}, "invalid max_embedding_calls -2"),
        ({"phase": ""}, "phase must be a non-empty string"),
    ],
)
def test_bad_arguments_raise_one_line_value_errors(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"budget_tokens": 100}
    args.update(kwargs)
    with pytest.raises(ValueError) as info:
        select_context({"a.py": "x"}, "q", **args)  # type: ignore[arg-type]
    assert message in str(info.value)
    assert "\n" not in str(info.value)
