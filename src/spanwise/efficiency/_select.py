"""``select_context``: choose which files go into a model's context under a token budget.

Order of preference:

1. **Pinned** files (deliverables) are always kept, whole, in the order given, even when
   they alone exceed the budget; ``over_budget`` then says so.
2. The rest are ranked by **priority** (smaller number first; files without one after
   every file with one), then **relevance** to the query (cosine similarity of
   embeddings when an embedder is given and allowed, BM25 otherwise), then **size**
   (smaller first), then path.
3. Greedy fill: each file in that order is kept if it still fits; one that does not fit
   is omitted and the fill **continues**, so smaller files after it can still get in.

A file with an artifact (a shorter summary) costs the artifact's tokens and is sent as
the artifact; see :mod:`spanwise.efficiency._artifacts`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from spanwise._span import span
from spanwise.efficiency._artifacts import Candidate, cap_paths, plan_candidates
from spanwise.efficiency._bm25 import bm25_scores
from spanwise.efficiency._cache import EmbeddingCache, default_cache
from spanwise.efficiency._semantic import SemanticResult, rank_semantic, resolve_cap
from spanwise.efficiency._tokens import TokenEstimator, estimator_name, resolve_estimator

FALLBACK_REASONS = ("disabled", "cap_exceeded", "embedder_error")


@dataclass(frozen=True)
class Selection:
    """What ``select_context`` chose, and the numbers to judge it by."""

    kept: dict[str, str]
    """path → the text to send (the file, or its artifact), pinned first, then by rank."""
    omitted: list[str]
    used_tokens_est: int
    budget_tokens: int
    mode: str
    """``"semantic"`` or ``"lexical"``."""
    fallback_reason: str | None
    """Why ranking is lexical although an embedder was given: ``"disabled"`` (cap 0),
    ``"cap_exceeded"``, ``"embedder_error"``; None otherwise."""
    over_budget: bool
    """The pinned files alone exceed the budget (they are kept anyway)."""
    pinned: tuple[str, ...]
    context_files_total: int
    ranking: tuple[str, ...]
    """Unpinned files in the order the fill considered them."""
    scores: dict[str, float]
    """Relevance of each unpinned file (cosine or BM25, per ``mode``)."""
    substituted: tuple[str, ...]
    """Kept files sent as their artifact (all of them; records keep 10)."""
    artifact_tokens_used_est: int
    fullfile_tokens_avoided_est: int
    embedding_cache_hits: int
    embedding_cache_misses: int
    embedding_calls_made: int
    embedding_cap: int | None
    """The call cap in force; None when no embedder was given."""
    estimator: str
    run: str | None = None
    phase: str | None = None
    sources: dict[str, str] = field(default_factory=dict)
    """path → ``"full"`` or ``"artifact"`` for every kept file."""

    @property
    def files_kept_count(self) -> int:
        return len(self.kept)

    @property
    def files_omitted_count(self) -> int:
        return len(self.omitted)

    @property
    def deliverables_count(self) -> int:
        return len(self.pinned)

    @property
    def artifact_substitutions_count(self) -> int:
        return len(self.substituted)

    @property
    def substituted_paths(self) -> tuple[str, ...]:
        return cap_paths(self.substituted)

    def metrics(self) -> dict[str, Any]:
        """The per-phase metric fields (without run, phase and outcome)."""
        return {
            "budget_mode": self.mode,
            "context_budget_cap_tokens": self.budget_tokens,
            "context_budget_selected_tokens_est": self.used_tokens_est,
            "files_kept": self.files_kept_count,
            "files_omitted": self.files_omitted_count,
            "deliverables_count": self.deliverables_count,
            "context_files_total": self.context_files_total,
            "over_budget": self.over_budget,
            "artifact_substitutions_count": self.artifact_substitutions_count,
            "artifact_tokens_used_est": self.artifact_tokens_used_est,
            "fullfile_tokens_avoided_est": self.fullfile_tokens_avoided_est,
            "substituted_paths": list(self.substituted_paths),
            "embedding_cache_hits": self.embedding_cache_hits,
            "embedding_cache_misses": self.embedding_cache_misses,
            "embedding_calls_made": self.embedding_calls_made,
            "embedding_cap_value": self.embedding_cap,
            "fallback_reason": self.fallback_reason,
        }


def select_context(
    files: Mapping[str, str],
    query: str,
    budget_tokens: int,
    *,
    pinned: Iterable[str] = (),
    priorities: Mapping[str, int] | None = None,
    artifacts: Mapping[str, str] | None = None,
    embedder: Any = None,
    phase: str | None = None,
    run: str | None = None,
    max_embedding_calls: int | None = None,
    estimator: TokenEstimator | str | None = None,
    cache: EmbeddingCache | Literal[False] | None = None,
) -> Selection:
    """Choose files for a context of ``budget_tokens`` tokens (see the module doc).

    ``files`` maps path → content; ``pinned`` paths must be among them. ``artifacts``
    maps path → a shorter stand-in (see :func:`find_artifacts`). ``embedder`` turns on
    semantic ranking (any ``list[str] -> list[list[float]]``); without one, ranking is
    BM25. ``max_embedding_calls`` caps embedding calls per ``phase`` (0 off, -1
    unlimited, default 100 or ``$SPANWISE_MAX_EMBEDDING_CALLS``). ``estimator`` counts
    tokens (default chars ÷ 4; ``"auto"`` uses tiktoken when available offline).
    ``cache`` is the embedding cache (default ``SPANWISE_HOME/embeddings.db``;
    ``False`` for none). Bad arguments raise ValueError; a failing embedder never
    does (ranking falls back to BM25 with ``fallback_reason="embedder_error"``).
    """
    pinned_paths = _check_args(files, query, budget_tokens, pinned, priorities, run, phase)
    estimate = resolve_estimator(estimator)
    cap = resolve_cap(max_embedding_calls) if embedder is not None else None
    with span("select_context", kind="budget") as s:
        candidates = plan_candidates(files, artifacts, estimate, frozenset(pinned_paths))
        rest = [p for p in files if p not in pinned_paths]
        semantic = _rank(files, rest, query, embedder, cache, cap, run, phase)
        mode = "semantic" if semantic.scores is not None else "lexical"
        scores = semantic.scores
        if scores is None:
            scores = bm25_scores({p: files[p] for p in rest}, query) if rest else {}
        order = _order(rest, candidates, scores, priorities or {})
        selection = _fill(
            candidates,
            pinned_paths,
            order,
            scores,
            budget_tokens,
            mode=mode,
            semantic=semantic,
            cap=cap,
            estimator=estimator_name(estimate),
            total=len(files),
            run=run,
            phase=phase,
        )
        s.set_attributes(_span_attributes(selection))
    return selection


def _check_args(
    files: Mapping[str, str],
    query: str,
    budget_tokens: int,
    pinned: Iterable[str],
    priorities: Mapping[str, int] | None,
    run: str | None,
    phase: str | None,
) -> tuple[str, ...]:
    if not isinstance(files, Mapping):
        raise ValueError(f"files must be a mapping of path to content, not {type(files).__name__}")
    if not isinstance(query, str):
        raise ValueError(f"query must be a string, not {type(query).__name__}")
    if isinstance(budget_tokens, bool) or not isinstance(budget_tokens, int) or budget_tokens < 0:
        raise ValueError(f"budget_tokens must be a non-negative int, not {budget_tokens!r}")
    if isinstance(pinned, str):
        raise ValueError("pinned must be a collection of paths, not one string")
    pinned_paths = tuple(dict.fromkeys(pinned))
    for path in pinned_paths:
        if path not in files:
            raise ValueError(f"pinned file {path!r} is not in files")
    for path, content in files.items():
        if not isinstance(content, str):
            raise ValueError(f"content of {path!r} must be a string, not {type(content).__name__}")
    for path, value in (priorities or {}).items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"priority of {path!r} must be an int, not {value!r}")
    for name, ident in (("run", run), ("phase", phase)):
        if ident is not None and (not isinstance(ident, str) or not ident):
            raise ValueError(f"{name} must be a non-empty string or None, not {ident!r}")
    return pinned_paths


def _rank(
    files: Mapping[str, str],
    rest: list[str],
    query: str,
    embedder: Any,
    cache: EmbeddingCache | Literal[False] | None,
    cap: int | None,
    run: str | None,
    phase: str | None,
) -> SemanticResult:
    if embedder is None or cap is None:
        return SemanticResult(None, None, cap=0)
    if not rest and cap != 0:
        return SemanticResult({}, None, cap=cap)
    store = None if cache is False else (cache if cache is not None else default_cache())
    return rank_semantic(
        {p: files[p] for p in rest},
        query,
        embedder,
        store,
        cap,
        (run, phase) if phase is not None else None,
    )


def _order(
    rest: list[str],
    candidates: Mapping[str, Candidate],
    scores: Mapping[str, float],
    priorities: Mapping[str, int],
) -> list[str]:
    def key(path: str) -> tuple[int, int, float, int, str]:
        prio = priorities.get(path)
        return (
            0 if prio is not None else 1,
            prio or 0,
            -scores.get(path, 0.0),
            candidates[path].tokens,
            path,
        )

    return sorted(rest, key=key)


def _fill(
    candidates: Mapping[str, Candidate],
    pinned: tuple[str, ...],
    order: list[str],
    scores: dict[str, float],
    budget: int,
    *,
    mode: str,
    semantic: SemanticResult,
    cap: int | None,
    estimator: str,
    total: int,
    run: str | None,
    phase: str | None,
) -> Selection:
    kept: dict[str, str] = {}
    sources: dict[str, str] = {}
    used = 0
    for path in pinned:
        c = candidates[path]
        kept[path], sources[path] = c.text, "full"
        used += c.tokens
    over_budget = used > budget
    omitted: list[str] = []
    substituted: list[str] = []
    artifact_tokens = avoided = 0
    for path in order:
        c = candidates[path]
        if used + c.tokens > budget:
            omitted.append(path)
            continue
        used += c.tokens
        kept[path] = c.text
        sources[path] = "artifact" if c.from_artifact else "full"
        if c.from_artifact:
            substituted.append(path)
            artifact_tokens += c.tokens
            avoided += c.full_tokens - c.tokens
    return Selection(
        kept=kept,
        omitted=omitted,
        used_tokens_est=used,
        budget_tokens=budget,
        mode=mode,
        fallback_reason=semantic.fallback_reason,
        over_budget=over_budget,
        pinned=pinned,
        context_files_total=total,
        ranking=tuple(order),
        scores=scores,
        substituted=tuple(substituted),
        artifact_tokens_used_est=artifact_tokens,
        fullfile_tokens_avoided_est=avoided,
        embedding_cache_hits=semantic.cache_hits,
        embedding_cache_misses=semantic.cache_misses,
        embedding_calls_made=semantic.calls_made,
        embedding_cap=cap,
        estimator=estimator,
        run=run,
        phase=phase,
        sources=sources,
    )


def _span_attributes(selection: Selection) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        f"efficiency.{k}": v for k, v in selection.metrics().items() if v is not None
    }
    attrs["efficiency.estimator"] = selection.estimator
    if selection.run is not None:
        attrs["efficiency.run_id"] = selection.run
    if selection.phase is not None:
        attrs["efficiency.phase_id"] = selection.phase
    return attrs
