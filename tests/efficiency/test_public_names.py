"""The public names of spanwise.efficiency are pinned: changing them is deliberate."""

import json
import subprocess
import sys

import spanwise.efficiency

EXPECTED = {
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
}


def test_public_names_are_pinned() -> None:
    assert set(spanwise.efficiency.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(spanwise.efficiency, name) is not None


def test_importing_it_loads_only_the_standard_library() -> None:
    code = (
        "import json, sys; before = set(sys.modules); import spanwise.efficiency; "
        "print(json.dumps(sorted({m.split('.')[0] for m in set(sys.modules) - before})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    third_party = loaded - set(sys.stdlib_module_names) - {"spanwise"}
    assert third_party == set()
