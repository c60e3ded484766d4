"""A program using the real OpenTelemetry SDK and OTLP/HTTP exporter sends GenAI spans
to ``spanwise serve`` (a real server process); they show in ``spanwise traces`` and
``spanwise trace`` with costs, and on the dashboard."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from server.helpers import LiveServer, otel_genai_program, sqlite_url
from spanwise.cli import cli

# gpt-4o-mini: $0.15/M input, $0.60/M output, $0.075/M cached input.
EXPECTED_COST = (1200 * 0.15 + 300 * 0.6 + (2000 - 1024) * 0.15 + 1024 * 0.075 + 150 * 0.6) / 1e6


def run_cli(*args: str) -> str:
    out = StringIO()
    cli.main(list(args), obj={"console": Console(file=out, width=140)}, standalone_mode=False)
    return out.getvalue()


def send_otel_trace(server: LiveServer, tmp_path: Path, token: str | None = None) -> None:
    program = tmp_path / "otel_app.py"
    program.write_text(otel_genai_program(server.url + "/v1/traces"))
    args = [sys.executable, str(program)] + ([token] if token else [])
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "flushed", done.stderr


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(sqlite_url(tmp_path / "server-home"))
    try:
        yield live
    finally:
        live.stop()


def test_otel_sdk_spans_appear_in_spanwise_traces_with_costs(
    server: LiveServer, tmp_path: Path
) -> None:
    send_otel_trace(server, tmp_path)
    listing = json.loads(run_cli("traces", "--store", server.store, "--json"))
    assert len(listing) == 1
    trace = listing[0]
    assert trace["name"] == "support agent" and trace["session_id"] == "otel-session-1"
    assert trace["span_count"] == 4 and trace["llm_call_count"] == 2
    assert trace["input_tokens"] == 3200 and trace["output_tokens"] == 450
    assert trace["cost_usd"] == pytest.approx(EXPECTED_COST)
    table = run_cli("traces", "--store", server.store)
    assert "support agent" in table and f"${EXPECTED_COST:.6f}" in table
    tree = run_cli("trace", trace["trace_id"][:10], "--store", server.store)
    assert "chat gpt-4o-mini #1" in tree and "lookup order" in tree
    # The dashboard shows the same trace, with the tool span typed from gen_ai names.
    detail = httpx.get(f"{server.url}/api/traces/{trace['trace_id']}").json()
    kinds = {s["name"]: s["kind"] for s in detail["spans"]}
    assert kinds == {
        "support agent": "agent",
        "chat gpt-4o-mini #0": "llm",
        "chat gpt-4o-mini #1": "llm",
        "lookup order": "tool",
    }
    assert (
        "otel-demo"
        in httpx.get(
            f"{server.url}/api/traces/{trace['trace_id']}/spans/{detail['spans'][0]['span_id']}"
        ).text
    )


def test_with_a_token_the_exporter_must_send_it(tmp_path: Path) -> None:
    live = LiveServer(sqlite_url(tmp_path / "locked-home"), env={"SPANWISE_TOKEN": "tok-123"})
    try:
        program = tmp_path / "otel_app.py"
        program.write_text(otel_genai_program(live.url + "/v1/traces"))
        refused = subprocess.run(
            [sys.executable, str(program)], capture_output=True, text=True, timeout=60
        )
        assert "401" in refused.stderr  # the exporter logs the refusal
        assert run_cli("traces", "--store", live.store).strip() == "no traces recorded yet"
        send_otel_trace(live, tmp_path, token="tok-123")
        assert "support agent" in run_cli("traces", "--store", live.store)
    finally:
        live.stop()
