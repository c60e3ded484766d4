"""Dashboard server time with 1,000,000 spans in 100,000 traces (plus one 5,000-span trace),
on SQLite and on PostgreSQL. Targets: trace list ≤ 100 ms, the 5,000-span trace page
≤ 300 ms, cost by day ≤ 300 ms.

Server time is what the app reports in its ``Server-Timing`` header: from the request
entering the app to the response starting (the page fully rendered), measured in-process
so no network or client time is included. Each page: 2 warm-up requests, then the median
and the slowest of 15.

    .venv/bin/python bench/server_pages.py [--traces 100000] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import git_rev, write_section
from server_data import generate

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
ROUNDS = 15
TARGETS = {"trace list": 100, "trace page (5,000 spans)": 300, "cost by day (30 days)": 300}


def pages(big: str) -> list[tuple[str, str]]:
    return [
        ("trace list", "/"),
        ("trace list, page 40", "/?offset=2000"),
        ("trace list, status=error + model filter", "/?status=error&model=gpt-4o"),
        ("trace list, name contains + min cost", "/?name=agent&min_cost=0.05"),
        ("trace page (5,000 spans)", f"/traces/{big}"),
        ("trace JSON (5,000 spans)", f"/api/traces/{big}"),
        ("cost by day (30 days)", "/cost?since=30d&bucket=day"),
        ("cost by hour (7 days)", "/cost?since=7d&bucket=hour"),
        ("latency p50/p95/p99 (24 h)", "/latency?since=24h"),
        ("health (counts, size)", "/health"),
    ]


def measure(url: str, big: str) -> list[dict[str, Any]]:
    from fastapi.testclient import TestClient

    from spanwise.server import ServerConfig, create_app

    results = []
    app = create_app(ServerConfig(store_url=url))
    with TestClient(app, base_url="http://127.0.0.1:7842") as client:
        for label, path in pages(big):
            times = []
            for _ in range(ROUNDS + 2):
                r = client.get(path)
                assert r.status_code == 200, (path, r.status_code, r.text[:300])
                times.append(float(r.headers["server-timing"].split("dur=")[1]))
            first, measured = times[0], times[2:]
            results.append(
                {
                    "page": label,
                    "path": path,
                    "median": statistics.median(measured),
                    "max": max(measured),
                    "first": first,
                    "bytes": len(r.content),
                }
            )
    return results


def run(backend: str, traces: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite://{tmp}/bench.db"
            info = generate(url, traces)
            info["size"] = Path(f"{tmp}/bench.db").stat().st_size
            return measure(url, info["big_trace_id"]), info
    import psycopg

    name = f"spanwise_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
        info = generate(url, traces)
        with psycopg.connect(url) as conn:
            info["size"] = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        return measure(url, info["big_trace_id"]), info
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def table(results: dict[str, list[dict[str, Any]]]) -> str:
    backends = list(results)
    head = (
        "| page | "
        + " | ".join(f"{b} median | {b} slowest | {b} first" for b in backends)
        + " | target |"
    )
    sep = "| --- | " + " | ".join("---: | ---: | ---:" for _ in backends) + " | ---: |"
    lines = [head, sep]
    for i, row in enumerate(results[backends[0]]):
        cells = []
        for b in backends:
            r = results[b][i]
            mark = ""
            target = TARGETS.get(r["page"])
            if target is not None:
                mark = " ✓" if r["median"] <= target else " ✗"
            cells.append(f"{r['median']:.1f} ms{mark} | {r['max']:.1f} ms | {r['first']:.1f} ms")
        target = TARGETS.get(row["page"])
        lines.append(
            f"| {row['page']} | "
            + " | ".join(cells)
            + f" | {'≤ ' + str(target) + ' ms' if target else ''} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    backends = [args.only] if args.only else ["sqlite", "postgresql"]
    results, infos = {}, {}
    for backend in backends:
        print(f"{backend}: generating {args.traces:,} traces…", file=sys.stderr)
        started = time.perf_counter()
        results[backend], infos[backend] = run(backend, args.traces)
        print(f"{backend}: done in {time.perf_counter() - started:.0f}s", file=sys.stderr)
        for r in results[backend]:
            print(f"  {r['page']:<45} {r['median']:8.1f} ms  (max {r['max']:.1f})", file=sys.stderr)
    spans = args.traces * 10 + 5_000
    sizes = ", ".join(
        f"{b} {infos[b]['size'] / 1e6:,.0f} MB (loaded in {infos[b]['seconds']:.0f} s)"
        for b in backends
    )
    body = f"""Command: `.venv/bin/python bench/server_pages.py` (commit {git_rev()}). Data from
`bench/server_data.py`: {args.traces:,} traces of 10 spans plus one trace of 5,000 spans
({spans:,} spans, {args.traces * 2 + 500:,} LLM calls over 6 models, 30 days, 1,000 sessions),
written through the store's own row writer; store size {sizes}. Server time is the app's
`Server-Timing` (request in → page rendered), in-process, median and slowest of 15 after
2 warm-ups, and the very first request of a fresh server (cold caches; for cost, the build of
the hourly rollup the later requests only top up); PostgreSQL 15 on the same machine, default
settings. The machine was shared with other work while this ran (1-minute load average
{os.getloadavg()[0]:.1f} at the end).

{table(results)}
"""
    if not args.no_write:
        write_section("server-pages", "Dashboard: page server time on a 1,000,000-span store", body)
    print(body)


if __name__ == "__main__":
    main()
