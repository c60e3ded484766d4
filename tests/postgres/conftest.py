"""PostgreSQL fixtures: each test gets its own database on the machine's server
(127.0.0.1:5432, user postgres) and drops it afterwards."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest

ADMIN_URL = os.environ.get("SPANWISE_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")


def _server_url(database: str) -> str:
    base = ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{database}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    name = f"spanwise_test_{secrets.token_hex(6)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _server_url(name)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
