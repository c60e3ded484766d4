"""Token efficiency: choose context files under a token budget, substitute short
artifacts for full files, cache embeddings across processes, and record per-phase
metrics that show in traces, in the ``efficiency`` table and in ``spanwise efficiency``.

    from spanwise.efficiency import select_context, record_efficiency

    sel = select_context(files, "add a retry to the HTTP client", 60_000,
                         pinned=["src/client.py"], phase="p1", run="run-42")
    prompt = "\\n\\n".join(sel.kept.values())
    ...
    record_efficiency(sel, outcome="COMPLETE")

Importing this package needs only the standard library; embedders import their
libraries when created.
"""

from spanwise.efficiency._artifacts import MAX_PATHS, find_artifacts
from spanwise.efficiency._bm25 import bm25_scores, query_terms
from spanwise.efficiency._cache import (
    CacheKey,
    CacheStats,
    EmbeddingCache,
    cache_key,
    default_cache,
    default_cache_path,
)
from spanwise.efficiency._embedders import (
    EmbedderError,
    FunctionEmbedder,
    LocalEmbedder,
    OpenAIEmbedder,
)
from spanwise.efficiency._metrics import EfficiencyRecord, record_efficiency
from spanwise.efficiency._select import Selection, select_context
from spanwise.efficiency._semantic import (
    CAP_ENV,
    DEFAULT_MAX_EMBEDDING_CALLS,
    embedding_calls_made,
    reset_embedding_calls,
)
from spanwise.efficiency._stats import efficiency_records, efficiency_stats
from spanwise.efficiency._tokens import (
    TiktokenEstimator,
    estimate_tokens,
    exact_estimator,
    tiktoken_data_available,
)

__all__ = [
    "CAP_ENV",
    "DEFAULT_MAX_EMBEDDING_CALLS",
    "MAX_PATHS",
    "CacheKey",
    "CacheStats",
    "EfficiencyRecord",
    "EmbedderError",
    "EmbeddingCache",
    "FunctionEmbedder",
    "LocalEmbedder",
    "OpenAIEmbedder",
    "Selection",
    "TiktokenEstimator",
    "bm25_scores",
    "cache_key",
    "default_cache",
    "default_cache_path",
    "efficiency_records",
    "efficiency_stats",
    "embedding_calls_made",
    "estimate_tokens",
    "exact_estimator",
    "find_artifacts",
    "query_terms",
    "record_efficiency",
    "reset_embedding_calls",
    "select_context",
    "tiktoken_data_available",
]
