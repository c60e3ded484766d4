"""OTLP/HTTP ingest throughput of ``spanwise serve`` (target ≥ 20,000 spans/s sustained).

A real server process on loopback; 8 client threads post pre-encoded protobuf
``ExportTraceServiceRequest`` bodies of 512 spans (the OpenTelemetry SDK's default batch)
with keep-alive, for about 20 s. Every span is unique; each trace has 10 spans, two of
them GenAI chat calls with token usage (priced on the way in). A 200 means committed
(the server acknowledges after its transaction), so spans/s counts stored spans; the
store's span count is checked at the end.

    .venv/bin/python bench/server_ingest.py [--store postgresql://…] [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import git_rev, write_section

BATCH = 512
CLIENTS = 8
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def payloads(count: int, seed: int = 3) -> list[bytes]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    rng = random.Random(seed)
    now = time.time_ns()
    out = []
    for _ in range(count):
        req = ExportTraceServiceRequest()
        rs = req.resource_spans.add()
        kv = rs.resource.attributes.add()
        kv.key, kv.value.string_value = "service.name", "ingest-bench"
        spans = rs.scope_spans.add().spans
        while len(spans) < BATCH:
            trace_id = rng.getrandbits(128).to_bytes(16, "big")
            root = rng.getrandbits(64).to_bytes(8, "big")
            for i in range(min(10, BATCH - len(spans))):
                s = spans.add()
                s.trace_id = trace_id
                s.span_id = root if i == 0 else rng.getrandbits(64).to_bytes(8, "big")
                if i:
                    s.parent_span_id = root
                s.name = "agent" if i == 0 else ("chat" if i in (3, 7) else f"step {i}")
                s.start_time_unix_nano = now + i * 1_000_000
                s.end_time_unix_nano = now + i * 1_000_000 + 500_000
                for key, value in (("step", i), ("http.status_code", 200)):
                    a = s.attributes.add()
                    a.key, a.value.int_value = key, value
                if i in (3, 7):
                    for key, sval in (
                        ("gen_ai.operation.name", "chat"),
                        ("gen_ai.provider.name", "openai"),
                        ("gen_ai.request.model", "gpt-4o-mini"),
                    ):
                        a = s.attributes.add()
                        a.key, a.value.string_value = key, sval
                    for key, ival in (
                        ("gen_ai.usage.input_tokens", 1200),
                        ("gen_ai.usage.output_tokens", 300),
                    ):
                        a = s.attributes.add()
                        a.key, a.value.int_value = key, ival
        out.append(req.SerializeToString())
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(store: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "spanwise.cli", "serve", "--port", str(port), "--store", store],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/api/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def blast(url: str, bodies: list[bytes]) -> tuple[float, int, int]:
    errors = 0
    lock = threading.Lock()
    chunks = [bodies[i::CLIENTS] for i in range(CLIENTS)]

    def client(mine: list[bytes]) -> None:
        nonlocal errors
        with httpx.Client(base_url=url, timeout=60) as c:
            for body in mine:
                r = c.post(
                    "/v1/traces", content=body, headers={"content-type": "application/x-protobuf"}
                )
                if r.status_code != 200:
                    with lock:
                        errors += 1

    threads = [threading.Thread(target=client, args=(c,)) for c in chunks]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, len(bodies) * BATCH, errors


def run(store: str, seconds: float) -> dict[str, object]:
    warm = payloads(10, seed=1)
    proc, url = serve(store)
    try:
        blast(url, warm)  # warm-up: imports, price tables, first transactions
        probe = payloads(40, seed=2)
        elapsed, spans, _ = blast(url, probe)
        needed = int(seconds * spans / elapsed / BATCH) + 1
        bodies = payloads(needed, seed=3)
        elapsed, spans, errors = blast(url, bodies)
        health = httpx.get(url + "/api/health").json()
    finally:
        proc.terminate()
        proc.wait(20)
    stored = health["counts"]["spans"]
    return {
        "elapsed": elapsed,
        "spans": spans,
        "errors": errors,
        "rate": spans / elapsed,
        "stored": stored,
        "expected": (10 + 40 + len(bodies)) * BATCH,
        "transactions": health["ingest"]["transactions"],
        "requests": health["ingest"]["requests"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    results = {}
    for backend in [args.only] if args.only else ["sqlite", "postgresql"]:
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                results[backend] = run(f"sqlite://{tmp}/ingest.db", args.seconds)
        else:
            import psycopg

            name = f"spanwise_bench_{secrets.token_hex(4)}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            try:
                results[backend] = run(PG_ADMIN.rsplit("/", 1)[0] + "/" + name, args.seconds)
            finally:
                with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        r = results[backend]
        print(
            f"{backend}: {r['rate']:,.0f} spans/s ({r['spans']:,} spans in {r['elapsed']:.1f}s, "
            f"{r['errors']} errors, stored {r['stored']:,}/{r['expected']:,})",
            file=sys.stderr,
        )
    rows = "\n".join(
        f"| {b} | {r['rate']:,.0f} spans/s | {r['spans']:,} in {r['elapsed']:.1f} s | "
        f"{r['stored']:,} of {r['expected']:,} | {r['errors']} | "
        f"{r['requests']:,} requests in {r['transactions']:,} transactions |"
        for b, r in results.items()
    )
    body = f"""Command: `.venv/bin/python bench/server_ingest.py` (commit {git_rev()}). A
`spanwise serve` process on loopback; {CLIENTS} client threads (one process, keep-alive)
post pre-encoded OTLP/protobuf bodies of {BATCH} unique spans (10-span traces, two GenAI
chat calls each, priced on ingest) for about {args.seconds:.0f} s after a warm-up. A 200 is
sent only after the spans are committed, so the rate counts stored spans. Target ≥ 20,000
spans/s. Client, server and PostgreSQL share the machine's {os.cpu_count()} cores (1-minute
load average {os.getloadavg()[0]:.1f} at the end, this benchmark's own processes included;
other work on the machine moves these figures by ±25 %).

| store | sustained | spans | stored / sent | non-200 | group commit |
| --- | ---: | ---: | ---: | ---: | --- |
{rows}
"""
    if not args.no_write:
        write_section("server-ingest", "Dashboard server: OTLP/HTTP ingest throughput", body)
    print(body)


if __name__ == "__main__":
    main()
