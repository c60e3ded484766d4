"""The PostgreSQL store: migrations applied once when many processes start together,
several programs writing through SPANWISE_STORE, fork safety, two servers on one
database, and the OpenTelemetry end-to-end flow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import httpx
import psycopg
import pytest

from server.helpers import LiveServer
from server.test_ingest import json_request
from server.test_otel_e2e import EXPECTED_COST, run_cli, send_otel_trace
from spanwise.store import open_database
from spanwise.store._database import StoreError
from spanwise.store._schema import MIGRATIONS

MIGRATE = "from spanwise.store import open_database; open_database({url!r}).close(); print('ok')"


def python(code: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(procs: list[subprocess.Popen[str]]) -> list[str]:
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outs.append(out)
    return outs


def test_migrations_apply_once_when_many_processes_start_together(pg_url: str) -> None:
    outs = finish([python(MIGRATE.format(url=pg_url)) for _ in range(6)])
    assert [o.strip() for o in outs] == ["ok"] * 6
    with psycopg.connect(pg_url) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
    assert sorted(names) == sorted(m.name for m in MIGRATIONS)
    db = open_database(pg_url)
    assert db.migrate() == []  # idempotent
    db.close()


def test_readonly_open_of_an_empty_database_says_so(pg_url: str) -> None:
    with pytest.raises(StoreError, match="no spanwise tables"):
        open_database(pg_url, readonly=True)
    with pytest.raises(StoreError, match=r"cannot connect to postgresql://postgres:\*\*\*@"):
        open_database("postgresql://postgres:hunter2@127.0.0.1:1/nowhere")


PROGRAM = """
import os, spanwise
spanwise.configure()
for i in range({n}):
    with spanwise.span(f"job {{os.environ['WHO']}} #{{i}}", kind="workflow"):
        with spanwise.span("step"):
            spanwise.record_llm_call(provider="openai", model="gpt-4o", input_tokens=100,
                                     output_tokens=10, prompt="same prompt for everyone")
spanwise.shutdown()
print("done")
"""


def test_several_programs_write_one_database(pg_url: str) -> None:
    n = 40
    env = {"SPANWISE_MODE": "trace", "SPANWISE_STORE": pg_url, "SPANWISE_CAPTURE_CONTENT": "1"}
    procs = [python(PROGRAM.format(n=n), {**env, "WHO": str(w)}) for w in range(4)]
    # A fifth program joins one distributed trace from three processes at once.
    shared = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    procs += [
        python(PROGRAM.format(n=5), {**env, "WHO": f"shared{w}", "TRACEPARENT": shared})
        for w in range(3)
    ]
    finish(procs)
    listing = json.loads(run_cli("traces", "--store", pg_url, "--json", "--limit", "1000"))
    assert len(listing) == 4 * n + 1
    by_id = {t["trace_id"]: t for t in listing}
    joined = by_id["4bf92f3577b34da6a3ce929d0e0e4736"]
    assert joined["span_count"] == 3 * 5 * 3 and joined["llm_call_count"] == 15
    assert joined["input_tokens"] == 1500
    assert sum(t["llm_call_count"] for t in listing) == 4 * n + 15
    cost = json.loads(run_cli("cost", "--by", "model", "--store", pg_url, "--json"))
    assert cost[0]["key"] == "gpt-4o" and cost[0]["calls"] == 4 * n + 15
    assert cost[0]["cost_usd"] == pytest.approx((4 * n + 15) * (100 * 2.5e-6 + 10 * 1e-5))
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT COUNT(*) FROM blobs").fetchone() == (1,)
        drops = conn.execute(
            "SELECT SUM(queue_full + shutdown + write_error), COUNT(*) FROM pipeline_stats"
        ).fetchone()
    assert drops is not None and drops[0] == 0


def test_a_forked_child_keeps_the_parents_session_alive(pg_url: str) -> None:
    # genai_prices is imported up front: forking while another thread imports can
    # deadlock CPython (logging's at-fork lock against the import lock).
    code = f"""
    import os, genai_prices, spanwise
    spanwise.configure("trace", store={pg_url!r})
    with spanwise.span("before fork"):
        pass
    spanwise.flush()
    pid = os.fork()
    if pid == 0:
        with spanwise.span("in child"):
            pass
        spanwise.shutdown()
        os._exit(0)
    os.waitpid(pid, 0)
    with spanwise.span("after fork"):
        pass
    spanwise.shutdown()
    print(spanwise.status()["internal_errors"])
    """
    out = finish([python(code)])[0]
    assert out.strip() == "{}"
    names = {t["name"] for t in json.loads(run_cli("traces", "--store", pg_url, "--json"))}
    assert names == {"before fork", "in child", "after fork"}


def test_two_servers_share_one_database(pg_url: str, tmp_path: Path) -> None:
    servers = [LiveServer(pg_url), LiveServer(pg_url)]
    try:
        errors: list[BaseException] = []

        def send(server: LiveServer, first: int) -> None:
            try:
                with httpx.Client(base_url=server.url) as client:
                    for i in range(first, first + 30):
                        payload = json_request(trace_hex=f"{i + 1:032x}")
                        assert client.post("/v1/traces", json=payload).status_code == 200
                        # the same trace gets a span through the other server as well
                        extra = json_request(trace_hex=f"{i + 1:032x}")
                        spans = extra["resourceSpans"][0]["scopeSpans"][0]["spans"]
                        spans[:] = [
                            dict(
                                spans[0],
                                spanId=f"{i + 1:08x}{first:08x}",
                                parentSpanId="eee19b7ec3c1b174",
                                name="extra",
                            )
                        ]
                        other = servers[1] if server is servers[0] else servers[0]
                        r = httpx.post(other.url + "/v1/traces", json=extra)
                        assert r.status_code == 200
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=send, args=(s, k * 30)) for k, s in enumerate(servers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        for server in servers:
            listing = httpx.get(server.url + "/api/traces", params={"limit": 500}).json()
            assert len(listing["items"]) == 60
            assert {t["span_count"] for t in listing["items"]} == {3}
            assert sum(t["cost_usd"] for t in listing["items"]) == pytest.approx(
                60 * (2000 * 2.5e-6 + 400 * 1e-5)
            )
        health = httpx.get(servers[0].url + "/api/health").json()
        assert health["dialect"] == "postgresql" and "***" not in health["store"]
    finally:
        for server in servers:
            server.stop()


def test_otel_sdk_to_a_server_on_postgres(pg_url: str, tmp_path: Path) -> None:
    server = LiveServer(pg_url)
    try:
        send_otel_trace(server, tmp_path)
    finally:
        server.stop()
    [trace] = json.loads(run_cli("traces", "--store", pg_url, "--json"))
    assert trace["name"] == "support agent" and trace["llm_call_count"] == 2
    assert trace["cost_usd"] == pytest.approx(EXPECTED_COST)
    assert f"${EXPECTED_COST:.6f}" in run_cli("traces", "--store", pg_url)


def test_bulk_inserts_store_the_same_rows_as_single_inserts(pg_url: str) -> None:
    """Plain multi-row inserts go through COPY; what lands is what was given."""
    db = open_database(pg_url)
    rows = [
        (
            f"{i:032x}",
            f"{i:016x}",
            None if i % 2 else "ab" * i,
            f"näme ✓ \\ \t {i}",
            "llm",
            2**62 + i,
            2**62 + i + 1,
            1,
            "ok",
            None,
            'quote " and \n newline',
            '{"k": [1, 2]}',
            None,
            i,
        )
        for i in range(20)
    ]
    cols = (
        "trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, duration_ns, status, "
        "error_type, error_message, attributes, events, pid"
    )
    with db.transaction() as cur:
        cur.executemany(f"INSERT INTO spans ({cols}) VALUES ({', '.join(['%s'] * 14)})", rows)
        cur.executemany(
            "INSERT INTO blobs (hash, size, content) VALUES (%s, %s, %s) ON CONFLICT (hash) "
            "DO NOTHING",
            [("h1", 1, "x"), ("h1", 1, "x")] * 5,
        )
    stored = db.query(f"SELECT {cols} FROM spans ORDER BY pid")
    assert [tuple(r) for r in stored] == rows
    assert db.query("SELECT COUNT(*) FROM blobs") == [(1,)]
    db.close()
