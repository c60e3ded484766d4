"""The dashboard pages and their JSON twins show what was recorded: filters, the
waterfall, LLM details, the debugging panels, cost, latency, efficiency and health."""

from __future__ import annotations

import re
import sqlite3
import time
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import spanwise
from server.conftest import make_client
from server.helpers import DAY_NS, XSS_NAME, free_port, record_many, sqlite_url
from spanwise.testing import FakeClock


def text(html: str) -> str:
    """What a reader sees: tags removed, entities decoded, whitespace collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def row_names(html: str) -> list[str]:
    return [unescape(n) for n in re.findall(r'class="trace-name">([^<]*)<', html)]


def trace_id_named(client: TestClient, name: str) -> str:
    items = client.get("/api/traces", params={"name": name}).json()["items"]
    assert len(items) == 1
    return str(items[0]["trace_id"])


def test_trace_list_shows_every_trace_newest_first(client: TestClient) -> None:
    html = client.get("/").text
    names = row_names(html)
    assert names[1:] == ["failing run", "checkout flow"]
    page = text(html)
    assert "gpt-4o" in page and "s-alpha" in page and "error (2)" in page
    # checkout: gpt-4o 1000/200 ($0.0045) + claude-sonnet-4 500/100 ($0.003)
    assert "$0.007500" in page
    assert "unpriced" in page  # the failing run's only model has no price


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "error"}, ["failing run"]),
        ({"status": "ok"}, [XSS_NAME, "checkout flow"]),
        ({"session": "s-alpha"}, ["checkout flow"]),
        ({"model": "claude-sonnet-4-0"}, ["checkout flow"]),
        ({"model": "mystery-model-x"}, ["failing run"]),
        ({"name": "CHECKOUT"}, ["checkout flow"]),
        ({"name": "%"}, []),
        ({"min_cost": "0.005"}, ["checkout flow"]),
        ({"min_duration_ms": "50"}, ["checkout flow"]),
        ({"since": "2h"}, [XSS_NAME, "failing run", "checkout flow"]),
        ({"since": "30m"}, []),
        ({"until": "57m"}, [XSS_NAME, "failing run", "checkout flow"]),
        ({"until": "2h"}, []),
        ({"status": "error", "since": "2h", "model": "gpt-4o"}, []),
    ],
)
def test_trace_list_filters(client: TestClient, query: dict[str, str], expected: list[str]) -> None:
    html = client.get("/", params=query).text
    names = row_names(html)
    api = [t["name"] for t in client.get("/api/traces", params=query).json()["items"]]
    assert names == api == expected
    if expected == []:
        assert "No traces match these filters." in html


def test_bad_filter_values_get_a_clear_message(client: TestClient) -> None:
    r = client.get("/", params={"min_cost": "cheap"})
    assert r.status_code == 400
    assert "invalid min cost 'cheap': expected a number" in text(r.text)
    r = client.get("/api/traces", params={"since": "yesterday-ish"})
    assert r.status_code == 400
    assert r.json()["detail"].startswith("invalid since 'yesterday-ish'")


def test_pagination(tmp_path: Path) -> None:
    home = tmp_path / "many"
    record_many(home, 120, start_ns=time.time_ns() - 3_600 * 10**9)
    with make_client(sqlite_url(home)) as c:
        first = c.get("/").text
        assert len(row_names(first)) == 50 and row_names(first)[0] == "batch job #119"
        older = re.search(r'href="([^"]+)" rel="next"', first)
        assert older is not None
        second = c.get(unescape(older.group(1))).text
        assert row_names(second)[0] == "batch job #69"
        third = c.get("/", params={"offset": 100}).text
        assert len(row_names(third)) == 20 and 'rel="next"' not in third
        api = c.get("/api/traces", params={"limit": 50, "offset": 100}).json()
        assert api["next_offset"] is None and len(api["items"]) == 20


def test_trace_page_draws_one_bar_per_span(client: TestClient) -> None:
    trace_id = trace_id_named(client, "checkout flow")
    html = client.get(f"/traces/{trace_id}").text
    bars = re.findall(r'<rect class="bar kind-(\w+)', html)
    assert sorted(bars) == ["llm", "llm", "node", "tool", "workflow"]
    labels = [unescape(x) for x in re.findall(r'<text class="label"[^>]*>([^<]*)<', html)]
    assert labels == ["checkout flow", "load", "chat gpt-4o", "search", "chat claude-sonnet-4-0"]
    # Children are indented under the root; the root bar spans the whole axis.
    xs = re.findall(r'<text class="label" x="(\d+)"', html)
    assert xs[0] == "4" and set(xs[1:]) == {"16"}
    root = r'class="bar kind-workflow" x="[\d.]+" y="\d+" width="([\d.]+)"'
    root_width = float(re.findall(root, html)[0])
    assert root_width == pytest.approx(760, abs=0.2)
    summary = text(html)
    assert "Spans 5" in summary and "LLM calls 2" in summary and "1,500 in / 300 out" in summary


def test_llm_span_shows_tokens_cost_and_transcript(client: TestClient) -> None:
    trace_id = trace_id_named(client, "checkout flow")
    spans = client.get(f"/api/traces/{trace_id}").json()["spans"]
    gpt = next(s for s in spans if s["name"] == "chat gpt-4o")
    html = client.get(f"/traces/{trace_id}", params={"span": gpt["span_id"]}).text
    facts = text(re.search(r'<dl class="facts llm".*?</dl>', html, re.S).group(0))  # type: ignore[union-attr]
    assert "Model openai / gpt-4o" in facts
    assert "Input tokens 1,000" in facts and "Output tokens 200" in facts
    assert "Cost $0.004500 (genai-prices" in facts
    transcript = text(re.search(r'<div class="transcript">.*?</section>', html, re.S).group(0))  # type: ignore[union-attr]
    assert "user What is in my cart?" in transcript and "assistant Two books." in transcript
    detail = client.get(f"/api/traces/{trace_id}/spans/{gpt['span_id']}").json()
    assert detail["llm"]["input_tokens"] == 1000
    assert detail["llm"]["cost_usd"] == pytest.approx(0.0045)
    assert detail["llm"]["transcript"][0] == {"role": "user", "content": "What is in my cart?"}


def test_unpriced_calls_say_so(client: TestClient) -> None:
    trace_id = trace_id_named(client, "failing run")
    spans = client.get(f"/api/traces/{trace_id}").json()["spans"]
    call = next(s for s in spans if s["model"] == "mystery-model-x")
    assert call["cost_usd"] is None
    html = client.get(f"/traces/{trace_id}", params={"span": call["span_id"]}).text
    assert "Cost unpriced" in text(html)
    assert "$0.000000" not in text(html)


def test_prefix_ids_and_missing_traces(client: TestClient) -> None:
    trace_id = trace_id_named(client, "failing run")
    assert client.get(f"/api/traces/{trace_id[:10]}").json()["trace"]["trace_id"] == trace_id
    r = client.get("/api/traces/" + "f" * 32)
    assert r.status_code == 404 and "no trace" in r.json()["detail"]
    r = client.get("/traces/" + "f" * 32)
    assert r.status_code == 404 and "Not found" in r.text
    assert client.get(f"/api/traces/{trace_id}/spans/{'0' * 16}").status_code == 404


def test_debug_panels_show_errors_locks_and_diffs(tmp_path: Path) -> None:
    import threading

    home = tmp_path / "debug-home"
    spanwise.configure("trace", home=home, capture_content=True)
    lock = spanwise.Lock("session-state")
    state = {"step": 0, "items": []}  # type: dict[str, object]

    @spanwise.capture_errors(state=lambda: state)
    def plan_step(attempt: int) -> None:
        api_key = "sk-proj-abcdefghijklmnopqrstuvwx"  # noqa: F841 - a local to be redacted
        budget_left = 3 - attempt  # noqa: F841 - a local the report shows
        raise ValueError(f"plan failed on attempt {attempt}")

    with spanwise.span("agent loop", kind="agent"):
        with lock:
            pass

        def worker() -> None:
            with lock:
                time.sleep(0.002)

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with spanwise.track_state("session", lambda: state):
            state["step"] = 1
        try:
            plan_step(2)
        except ValueError:
            pass
    spanwise.shutdown()
    spanwise.configure("off")
    with make_client(sqlite_url(home)) as c:
        trace_id = trace_id_named(c, "agent loop")
        html = c.get(f"/traces/{trace_id}").text
        errors = text(re.search(r'id="errors">.*?</section>', html, re.S).group(0))  # type: ignore[union-attr]
        assert "ValueError plan failed on attempt 2" in errors
        assert "plan_step" in errors and "budget_left 1" in errors
        assert "[REDACTED]" in errors and "abcdefghijklmnop" not in errors
        assert '"step": 1' in errors  # the state snapshot
        locks = re.search(r'id="locks">.*?</section>', html, re.S).group(0)  # type: ignore[union-attr]
        assert len(re.findall(r'<rect class="hold"', locks)) == 3
        assert "session-state" in locks
        diffs = text(re.search(r'id="diffs">.*?</section>', html, re.S).group(0))  # type: ignore[union-attr]
        assert "session" in diffs and "replace /step 1" in diffs


def test_panels_without_feature_tables_say_nothing_recorded(sample_store: str) -> None:
    path = sample_store[len("sqlite://") :]
    with sqlite3.connect(path) as conn:
        for table in ("errors", "lock_events", "state_diffs", "efficiency"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    with make_client(sample_store) as c:
        trace_id = trace_id_named(c, "checkout flow")
        page = text(c.get(f"/traces/{trace_id}").text)
        assert "Errors Nothing recorded (this store has no error reports yet)" in page
        assert "Lock timeline Nothing recorded." in page
        assert "State diffs Nothing recorded." in page
        detail = c.get(f"/api/traces/{trace_id}").json()
        assert detail["errors"] is None and detail["lock_events"] is None
        assert "Nothing recorded" in text(c.get("/efficiency").text)
        assert c.get("/api/efficiency").json() == {"available": False, "columns": [], "runs": []}


def test_cost_chart_by_model(tmp_path: Path) -> None:
    home = tmp_path / "cost-home"
    day0 = (time.time_ns() // DAY_NS - 3) * DAY_NS + 3_600 * 10**9
    clock = FakeClock(day0)
    spanwise.configure("trace", home=home, clock=clock)
    for day in range(3):
        for _ in range(day + 1):
            spanwise.record_llm_call(
                provider="openai", model="gpt-4o", input_tokens=1_000_000, output_tokens=0
            )
        spanwise.record_llm_call(
            provider="acme", model="secret-sauce", input_tokens=1, output_tokens=1
        )
        clock.advance(s=86_400)
    spanwise.shutdown()
    spanwise.configure("off")
    with make_client(sqlite_url(home)) as c:
        html = c.get("/cost", params={"since": "7d", "bucket": "day"}).text
        segments = re.findall(r'<rect class="seg m(\d)"[^>]*height="([\d.]+)"', html)
        priced = [float(h) for color, h in segments if float(h) > 0]
        assert len(priced) == 3
        assert priced[2] == pytest.approx(3 * priced[0], rel=0.01)  # $7.50 vs $2.50
        assert len(re.findall(r'class="unpriced-mark"', html)) == 3
        table = text(re.search(r'id="cost-table">.*?</table>', html, re.S).group(0))  # type: ignore[union-attr]
        assert "gpt-4o 6 6,000,000 0 $15.00" in table
        assert "secret-sauce 3 3 3 unpriced" in table
        report = c.get("/api/cost", params={"since": "7d"}).json()
        assert report["bucket_ns"] == DAY_NS
        assert [r["cost_usd"] for r in report["rows"] if r["model"] == "gpt-4o"] == [2.5, 5.0, 7.5]
        hourly = c.get("/api/cost", params={"since": "7d", "bucket": "hour"}).json()
        assert {r["bucket"] % DAY_NS for r in hourly["rows"]} == {3_600 * 10**9}


def test_latency_percentiles(tmp_path: Path) -> None:
    home = tmp_path / "latency-home"
    clock = FakeClock(time.time_ns() - 600 * 10**9)
    spanwise.configure("trace", home=home, clock=clock)
    for ms in range(1, 101):
        with spanwise.span("fetch page"):
            clock.advance(ms=ms)
    for _ in range(3):
        with spanwise.span("parse", kind="tool"):
            clock.advance(ms=7)
    spanwise.shutdown()
    spanwise.configure("off")
    with make_client(sqlite_url(home)) as c:
        rows = {r["name"]: r for r in c.get("/api/latency").json()["rows"]}
        fetch = rows["fetch page"]
        assert fetch["count"] == 100
        assert (fetch["p50_ns"], fetch["p95_ns"], fetch["p99_ns"], fetch["max_ns"]) == (
            50_000_000,
            95_000_000,
            99_000_000,
            100_000_000,
        )
        html = text(c.get("/latency").text)
        assert "fetch page internal 100 50.0ms 95.0ms 99.0ms 100.0ms 5.05s" in html
        tools = c.get("/api/latency", params={"kind": "tool"}).json()["rows"]
        assert [r["name"] for r in tools] == ["parse"]


def test_efficiency_per_run(tmp_path: Path) -> None:
    from spanwise.efficiency import record_efficiency, select_context

    home = tmp_path / "eff-home"
    spanwise.configure("trace", home=home)
    files = {
        "src/client.py": "def get():\n    return 1\n" * 20,
        "docs/notes.md": "retry notes " * 200,
        "src/other.py": "x = 1\n" * 500,
    }
    with spanwise.span("phase one"):
        sel = select_context(
            files,
            "add a retry to the client",
            400,
            pinned=["src/client.py"],
            phase="p1",
            run="run-42",
        )
        record_efficiency(sel, outcome="COMPLETE")
        record_efficiency(None, outcome="FAILED", run="run-42", phase="p2")
    spanwise.shutdown()
    spanwise.configure("off")
    with make_client(sqlite_url(home)) as c:
        report = c.get("/api/efficiency").json()
        assert report["available"] and [r["run_id"] for r in report["runs"]] == ["run-42"]
        assert len(report["runs"][0]["phases"]) == 2
        page = text(c.get("/efficiency").text)
        assert "run-42 2" in page and "2 phase records" in page


def test_health_shows_counts_drops_and_queue(client: TestClient) -> None:
    health = client.get("/api/health").json()
    assert health["counts"]["traces"] == 3 and health["counts"]["spans"] == 9
    assert health["dialect"] == "sqlite" and health["store_bytes"] > 0
    assert health["ingest"]["queued_requests"] == 0
    assert set(health["programs"]) >= {"queue_full", "shutdown", "write_error"}
    page = text(client.get("/health").text)
    assert "Queue 0 requests, 0 B of 128.0 MB" in page
    assert "queue_full 0" in page and "traces 3" in page


def test_health_shows_what_a_programs_otlp_export_dropped(tmp_path: Path) -> None:
    """A program exported to an OTLP endpoint that was down and exited within a second:
    its two spans are in the store, and the health page says the export dropped them."""
    home = tmp_path / "home"
    spanwise.configure("trace", home=home, otlp_endpoint=f"http://127.0.0.1:{free_port()}")
    for i in range(2):
        with spanwise.span(f"step {i}"):
            pass
    spanwise.shutdown(1.0)
    with make_client(sqlite_url(home)) as c:
        health = c.get("/api/health").json()
        page = text(c.get("/health").text)
    assert health["counts"]["spans"] == 2
    otlp = health["exporters"]["otlp"]
    assert (otlp["sent"], otlp["shutdown"], otlp["processes"]) == (0, 2, 1)
    assert "Spans the otlp export dropped" in page and "shutdown 2" in page


def test_empty_store_pages(empty_client: TestClient) -> None:
    for path in ("/", "/cost", "/latency", "/efficiency", "/health"):
        r = empty_client.get(path)
        assert r.status_code == 200, path
    assert "No traces recorded yet" in empty_client.get("/").text
    assert "No LLM calls in this window." in empty_client.get("/cost").text
