"""The dashboard, its JSON API, the fuzzed OpenAPI operations, prune and export on a
PostgreSQL store: the same answers as on SQLite."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.generation import GenerationMode

import spanwise
from server.conftest import make_client
from server.helpers import DAY_NS, XSS_NAME, record_many, record_sample
from server.test_fast_paths import check_rollup
from server.test_openapi_fuzz import _run
from server.test_pages import row_names, text
from server.test_retention import invoke
from spanwise.server import ServerConfig, create_app
from spanwise.testing import FakeClock


@pytest.fixture
def pg_sample(pg_url: str, tmp_path: Path) -> str:
    record_sample(tmp_path / "home", store=pg_url)
    return pg_url


@pytest.fixture
def pg_client(pg_sample: str) -> Iterator[TestClient]:
    with make_client(pg_sample) as c:
        yield c


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, [XSS_NAME, "failing run", "checkout flow"]),
        ({"status": "error"}, ["failing run"]),
        ({"session": "s-alpha"}, ["checkout flow"]),
        ({"model": "claude-sonnet-4-0"}, ["checkout flow"]),
        ({"name": "CHECKOUT"}, ["checkout flow"]),
        ({"name": "100%"}, []),
        ({"min_cost": "0.005"}, ["checkout flow"]),
        ({"min_duration_ms": "50"}, ["checkout flow"]),
        ({"since": "30m"}, []),
        ({"session": "nul\u0000byte"}, []),
    ],
)
def test_trace_list_filters_on_postgres(
    pg_client: TestClient, query: dict[str, str], expected: list[str]
) -> None:
    assert row_names(pg_client.get("/", params=query).text) == expected
    api = pg_client.get("/api/traces", params=query).json()["items"]
    assert [t["name"] for t in api] == expected


def test_trace_page_and_llm_span_on_postgres(pg_client: TestClient) -> None:
    [t] = pg_client.get("/api/traces", params={"name": "checkout"}).json()["items"]
    assert t["cost_usd"] == pytest.approx(0.0075) and t["models"] == ["claude-sonnet-4-0", "gpt-4o"]
    html = pg_client.get(f"/traces/{t['trace_id']}").text
    assert len(re.findall(r'<rect class="bar ', html)) == 5
    gpt = next(
        s
        for s in pg_client.get(f"/api/traces/{t['trace_id']}").json()["spans"]
        if s["model"] == "gpt-4o"
    )
    page = text(pg_client.get(f"/traces/{t['trace_id']}", params={"span": gpt["span_id"]}).text)
    assert "Input tokens 1,000" in page and "Cost $0.004500" in page
    assert "user What is in my cart?" in page


def test_cost_latency_and_health_on_postgres(pg_url: str, tmp_path: Path) -> None:
    clock = FakeClock(time.time_ns() - 3_600 * 10**9)
    spanwise.configure("trace", home=tmp_path / "h", store=pg_url, clock=clock)
    for ms in range(1, 101):
        with spanwise.span("fetch page"):
            clock.advance(ms=ms)
    spanwise.record_llm_call(
        provider="openai", model="gpt-4o", input_tokens=1_000_000, output_tokens=0
    )
    spanwise.shutdown()
    spanwise.configure("off")
    with make_client(pg_url) as c:
        fetch = next(r for r in c.get("/api/latency").json()["rows"] if r["name"] == "fetch page")
        assert (fetch["count"], fetch["p50_ns"], fetch["p95_ns"], fetch["p99_ns"]) == (
            100,
            50_000_000,
            95_000_000,
            99_000_000,
        )
        cost = c.get("/api/cost", params={"since": "7d"}).json()
        assert [(r["model"], r["cost_usd"]) for r in cost["rows"]] == [("gpt-4o", 2.5)]
        assert cost["rows"][0]["bucket"] % DAY_NS == 0
        assert "gpt-4o 1 1,000,000 0 $2.50" in text(c.get("/cost").text)
        health = c.get("/api/health").json()
        assert health["dialect"] == "postgresql" and health["counts"]["spans"] == 101
        assert health["store_bytes"] > 0


def test_prune_and_export_on_postgres(pg_url: str, tmp_path: Path) -> None:
    record_sample(tmp_path / "old", store=pg_url, start_ns=time.time_ns() - 40 * DAY_NS)
    record_many(tmp_path / "new", 4, store=pg_url, start_ns=time.time_ns() - 600 * 10**9)
    code, out = invoke("prune", "--older-than", "30d", "--store", pg_url, input="n\n")
    assert code == 1 and "3 traces older than 30d" in out and "9 spans, 3 LLM calls" in out
    code, out = invoke("prune", "--older-than", "30d", "--store", pg_url, "--yes")
    assert code == 0 and "deleted 3 traces, 2 unused blobs" in out
    code, out = invoke("export", "--store", pg_url)
    assert sorted(json.loads(line)["name"] for line in out.splitlines()) == [
        f"batch job #{i}" for i in range(4)
    ]


def test_fuzzed_api_has_no_server_errors_on_postgres(pg_sample: str) -> None:
    app = create_app(ServerConfig(store_url=pg_sample))
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", app, headers={"host": "127.0.0.1:7842"}
    )
    for result in schema.get_all_operations():
        operation = result.ok()
        assert _run(operation, GenerationMode.POSITIVE, examples=10) > 0


def test_cost_rollup_follows_inserts_and_prunes_on_postgres(pg_url: str) -> None:
    check_rollup(pg_url)
