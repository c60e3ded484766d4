"""The debugging records in the real PostgreSQL store, read back through the CLI."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from debug_helpers import run_cli, run_cli_json

import spanwise

ADMIN_URL = os.environ.get("SPANWISE_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_store() -> Iterator[str]:
    name = f"spanwise_debug_{secrets.token_hex(6)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_errors_locks_and_diffs_round_trip_through_postgresql(pg_store: str) -> None:
    spanwise.configure("trace", home=Path(os.environ["SPANWISE_HOME"]), store=pg_store)
    state = {"phase": "plan"}
    lock = spanwise.Lock("pg-state")

    @spanwise.capture_errors(state=lambda: state)
    def step(key: str) -> None:
        with lock, spanwise.track_state("session", lambda: state):
            state["phase"] = "act"
        {"a": 1}[key]

    try:
        with spanwise.span("pg run") as root, pytest.raises(KeyError):
            step("zz")
        spanwise.flush()
    finally:
        spanwise.configure("off")
    trace = f"{root.trace_id:032x}"
    data = run_cli_json("trace", trace, "--store", pg_store)
    assert [e["error_type"] for e in data["errors"]] == ["KeyError"]
    assert data["errors"][0]["frames"][-1]["locals"]["key"] == "zz"
    assert data["errors"][0]["state_snapshot"]["value"] == {"phase": "act"}
    assert [e["event"] for e in data["lock_events"]] == ["requested", "acquired", "released"]
    assert data["state_diffs"][0]["patch"] == [{"op": "replace", "path": "/phase", "value": "act"}]
    shown = run_cli("errors", "show", trace[:10], "--store", pg_store)
    assert "KeyError: 'zz'" in shown and 'key = "zz"' in shown
    locks = run_cli_json("locks", "--store", pg_store)
    assert locks["locks"][0]["lock"] == "pg-state" and locks["locks"][0]["acquisitions"] == 1
