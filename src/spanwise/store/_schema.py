"""Named, ordered migrations. Each is applied once and recorded in ``schema_migrations``.

DDL is written once for both dialects: ``{id}``, ``{int}`` and ``{real}`` become the
column types of the database at hand. Append new migrations at the end; never edit one
that has shipped.
"""

from __future__ import annotations

from typing import NamedTuple


class Migration(NamedTuple):
    name: str
    statements: tuple[str, ...]


TYPES = {
    "sqlite": {"id": "INTEGER PRIMARY KEY", "int": "INTEGER", "real": "REAL"},
    "postgresql": {"id": "BIGSERIAL PRIMARY KEY", "int": "BIGINT", "real": "DOUBLE PRECISION"},
}

MIGRATIONS: list[Migration] = [
    Migration(
        "0001_core",
        (
            """CREATE TABLE traces (
                trace_id TEXT PRIMARY KEY,
                name TEXT,
                session_id TEXT,
                start_ns {int} NOT NULL,
                end_ns {int} NOT NULL,
                status TEXT NOT NULL,
                span_count {int} NOT NULL DEFAULT 0,
                error_count {int} NOT NULL DEFAULT 0,
                llm_call_count {int} NOT NULL DEFAULT 0,
                input_tokens {int} NOT NULL DEFAULT 0,
                output_tokens {int} NOT NULL DEFAULT 0,
                cost_usd {real} NOT NULL DEFAULT 0,
                unpriced_calls {int} NOT NULL DEFAULT 0,
                has_root {int} NOT NULL DEFAULT 0
            )""",
            "CREATE INDEX traces_start ON traces(start_ns)",
            "CREATE INDEX traces_session ON traces(session_id)",
            """CREATE TABLE spans (
                id {id},
                trace_id TEXT NOT NULL,
                span_id TEXT NOT NULL,
                parent_span_id TEXT,
                name TEXT NOT NULL,
                kind TEXT NOT NULL,
                start_ns {int} NOT NULL,
                end_ns {int} NOT NULL,
                duration_ns {int} NOT NULL,
                status TEXT NOT NULL,
                error_type TEXT,
                error_message TEXT,
                attributes TEXT,
                events TEXT,
                pid {int}
            )""",
            "CREATE INDEX spans_trace ON spans(trace_id)",
            """CREATE TABLE llm_calls (
                id {id},
                trace_id TEXT NOT NULL,
                span_id TEXT NOT NULL,
                start_ns {int} NOT NULL,
                duration_ns {int} NOT NULL,
                provider TEXT NOT NULL,
                request_model TEXT NOT NULL,
                response_model TEXT,
                operation TEXT NOT NULL,
                input_tokens {int},
                output_tokens {int},
                cache_read_tokens {int},
                cache_write_tokens {int},
                reasoning_tokens {int},
                time_to_first_token_ms {real},
                streamed {int} NOT NULL DEFAULT 0,
                finish_reasons TEXT,
                cost_usd {real},
                pricing_available {int} NOT NULL DEFAULT 0,
                price_source TEXT,
                price_version TEXT,
                status TEXT NOT NULL,
                prompt_hash TEXT,
                response_hash TEXT,
                system_hash TEXT
            )""",
            "CREATE INDEX llm_calls_trace ON llm_calls(trace_id)",
            "CREATE INDEX llm_calls_start ON llm_calls(start_ns)",
            """CREATE TABLE blobs (
                hash TEXT PRIMARY KEY,
                size {int} NOT NULL,
                content TEXT NOT NULL
            )""",
        ),
    ),
    Migration(
        "0002_pipeline_stats",
        (
            """CREATE TABLE pipeline_stats (
                pid {int} NOT NULL,
                started_ns {int} NOT NULL,
                host TEXT NOT NULL,
                updated_ns {int} NOT NULL,
                exported {int} NOT NULL DEFAULT 0,
                queue_full {int} NOT NULL DEFAULT 0,
                shutdown {int} NOT NULL DEFAULT 0,
                write_error {int} NOT NULL DEFAULT 0,
                PRIMARY KEY (host, pid, started_ns)
            )""",
        ),
    ),
]


def statements_for(migration: Migration, dialect: str) -> list[str]:
    types = TYPES[dialect]
    return [stmt.format(**types) for stmt in migration.statements]
