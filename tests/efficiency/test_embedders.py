"""Shipped embedders: the OpenAI embeddings API through the real ``openai`` client
against a local server speaking its wire format, and the real all-MiniLM-L6-v2 model."""

from __future__ import annotations

import array
import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import spanwise
from efficiency.helpers import bag_of_words
from spanwise.efficiency import EmbeddingCache, LocalEmbedder, OpenAIEmbedder, select_context

SRC = Path(__file__).resolve().parents[2] / "src" / "spanwise"


class EmbeddingsServer:
    """``POST /v1/embeddings`` as OpenAI answers it (float or base64 vectors)."""

    def __init__(self, status: int = 200) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = status
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                if server.status != 200:
                    payload: dict[str, Any] = {
                        "error": {"message": "overloaded", "type": "server_error"}
                    }
                else:
                    payload = server.answer(body)
                data = json.dumps(payload).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        dims = body.get("dimensions", 64)
        data = []
        # Answer out of order: the client sorts by index.
        for index, text in reversed(list(enumerate(body["input"]))):
            vector = bag_of_words(text, dims)
            if body.get("encoding_format") == "base64":
                embedding: Any = base64.b64encode(array.array("f", vector).tobytes()).decode()
            else:
                embedding = vector
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = sum(len(t.split()) for t in body["input"])
        return {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[EmbeddingsServer]:
    s = EmbeddingsServer()
    yield s
    s.close()


def openai_client(url: str) -> Any:
    import openai

    return openai.OpenAI(api_key="sk-test", base_url=url, max_retries=0, timeout=5)


FILES = {
    "billing/invoice.py": "def total(items): return sum(i.price for i in items)  # invoice totals",
    "search/vector_cache.py": "class VectorCache: stores embedding vectors keyed by content hash",
    "ui/theme.css": "body { color: black; background: white; }",
}


def test_openai_embedder_through_the_real_client(
    server: EmbeddingsServer, cache: EmbeddingCache, tmp_path: Path
) -> None:
    spanwise.configure("trace", home=tmp_path / "home")
    embedder = OpenAIEmbedder(
        "text-embedding-3-small", dimensions=16, client=openai_client(server.url)
    )
    sel = select_context(
        FILES, "embedding vector cache", 10_000, embedder=embedder, cache=cache, phase="p"
    )
    assert sel.mode == "semantic" and sel.fallback_reason is None
    assert sel.ranking[0] == "search/vector_cache.py"
    [request] = server.requests
    assert request["path"] == "/v1/embeddings"
    assert request["auth"] == "Bearer sk-test"
    assert request["body"]["model"] == "text-embedding-3-small"
    assert request["body"]["dimensions"] == 16
    assert request["body"]["input"][0] == "embedding vector cache"
    assert request["body"]["input"][1].startswith("Path: billing/invoice.py\n\n")

    again = select_context(FILES, "embedding vector cache", 10_000, embedder=embedder, cache=cache)
    assert len(server.requests) == 1 and again.embedding_cache_hits == 4

    spanwise.flush()
    from spanwise.store import open_database

    db = open_database(f"sqlite://{tmp_path / 'home' / 'spanwise.db'}", readonly=True)
    [span] = db.query_dicts(
        "SELECT name, kind, attributes FROM spans WHERE name LIKE 'embeddings %'"
    )
    attrs = json.loads(span["attributes"])
    assert span["kind"] == "embedding"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "text-embedding-3-small"
    assert attrs["gen_ai.usage.input_tokens"] > 0
    db.close()


def test_openai_float_format_and_batches(server: EmbeddingsServer, cache: EmbeddingCache) -> None:
    class FloatClient:
        """The real client, asking for plain float vectors."""

        def __init__(self) -> None:
            self.real = openai_client(server.url)
            self.embeddings = self

        def create(self, **params: Any) -> Any:
            return self.real.embeddings.create(encoding_format="float", **params)

    embedder = OpenAIEmbedder("text-embedding-3-large", client=FloatClient(), batch_size=2)
    sel = select_context(
        FILES, "css theme color of the body background", 10_000, embedder=embedder, cache=cache
    )
    assert sel.mode == "semantic" and sel.embedding_calls_made == 2
    assert [len(r["body"]["input"]) for r in server.requests] == [2, 2]
    assert "dimensions" not in server.requests[0]["body"]
    assert sel.ranking[0] == "ui/theme.css"


def test_an_openai_error_falls_back_to_lexical(cache: EmbeddingCache) -> None:
    failing = EmbeddingsServer(status=503)
    try:
        embedder = OpenAIEmbedder(client=openai_client(failing.url))
        sel = select_context(FILES, "invoice totals", 10_000, embedder=embedder, cache=cache)
    finally:
        failing.close()
    assert (sel.mode, sel.fallback_reason) == ("lexical", "embedder_error")
    assert sel.ranking[0] == "billing/invoice.py"


@pytest.fixture(scope="module")
def minilm() -> LocalEmbedder:
    embedder = LocalEmbedder()
    embedder.load()
    return embedder


def test_minilm_ranks_real_files_and_the_relevant_one_comes_first(
    minilm: LocalEmbedder, cache: EmbeddingCache
) -> None:
    real = {
        str(path.relative_to(SRC)): path.read_text(encoding="utf-8")
        for path in [
            SRC / "efficiency" / "_cache.py",
            SRC / "efficiency" / "_bm25.py",
            SRC / "_redact.py",
            SRC / "cli" / "cost.py",
            SRC / "store" / "_sqlite.py",
        ]
    }
    # No file's name holds these words: the ranking comes from meaning.
    query = "keep previously computed vectors on disk so they are not paid for twice"
    sel = select_context(real, query, 100_000, embedder=minilm, cache=cache)
    assert sel.mode == "semantic" and sel.fallback_reason is None
    assert minilm.model == "all-MiniLM-L6-v2" and minilm.dimensions == 384
    assert sel.ranking[0] == "efficiency/_cache.py"
    privacy = select_context(
        real,
        "hide passwords and API keys before saving prompts",
        100_000,
        embedder=minilm,
        cache=cache,
    )
    assert privacy.ranking[0] == "_redact.py"
    assert privacy.embedding_cache_hits == 5  # the files were embedded once
