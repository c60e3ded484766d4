"""Named, ordered migrations. Each is applied once and recorded in ``schema_migrations``.

DDL is written once for both dialects: ``{id}``, ``{int}`` and ``{real}`` become the
column types of the database at hand. Append new migrations at the end; never edit one
that has shipped.
"""

from __future__ import annotations


class Migration:
    """One named step of DDL. A plain class, not a NamedTuple: making a NamedTuple class
    compiles code, a cost every process that opens a store paid at import."""

    __slots__ = ("name", "statements")

    def __init__(self, name: str, statements: tuple[str, ...]) -> None:
        self.name = name
        self.statements = statements


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
    Migration(
        "0020_efficiency",
        (
            """CREATE TABLE efficiency (
                id {id},
                run_id TEXT NOT NULL,
                phase_id TEXT NOT NULL,
                outcome TEXT NOT NULL,
                budget_mode TEXT NOT NULL,
                context_budget_cap_tokens {int} NOT NULL DEFAULT 0,
                context_budget_selected_tokens_est {int} NOT NULL DEFAULT 0,
                files_kept {int} NOT NULL DEFAULT 0,
                files_omitted {int} NOT NULL DEFAULT 0,
                deliverables_count {int} NOT NULL DEFAULT 0,
                context_files_total {int} NOT NULL DEFAULT 0,
                over_budget {int} NOT NULL DEFAULT 0,
                artifact_substitutions_count {int} NOT NULL DEFAULT 0,
                artifact_tokens_used_est {int} NOT NULL DEFAULT 0,
                fullfile_tokens_avoided_est {int} NOT NULL DEFAULT 0,
                substituted_paths TEXT NOT NULL DEFAULT '[]',
                embedding_cache_hits {int} NOT NULL DEFAULT 0,
                embedding_cache_misses {int} NOT NULL DEFAULT 0,
                embedding_calls_made {int} NOT NULL DEFAULT 0,
                embedding_cap_value {int},
                fallback_reason TEXT,
                trace_id TEXT,
                span_id TEXT,
                created_ns {int} NOT NULL,
                updated_ns {int} NOT NULL,
                UNIQUE (run_id, phase_id, outcome)
            )""",
            "CREATE INDEX efficiency_trace ON efficiency(trace_id)",
            "CREATE INDEX efficiency_updated ON efficiency(updated_ns)",
        ),
    ),
    Migration(
        "0010_debug",
        (
            """CREATE TABLE errors (
                id {id},
                error_id TEXT NOT NULL UNIQUE,
                trace_id TEXT,
                span_id TEXT,
                session_id TEXT,
                time_ns {int} NOT NULL,
                pid {int},
                thread TEXT,
                task TEXT,
                error_type TEXT NOT NULL,
                error_message TEXT,
                function TEXT,
                file TEXT,
                line {int},
                frames TEXT,
                chain TEXT,
                state_hash TEXT,
                llm_span_ids TEXT,
                truncated {int} NOT NULL DEFAULT 0
            )""",
            "CREATE INDEX errors_trace ON errors(trace_id)",
            "CREATE INDEX errors_time ON errors(time_ns)",
            """CREATE TABLE lock_events (
                id {id},
                time_ns {int} NOT NULL,
                lock_name TEXT NOT NULL,
                kind TEXT,
                event TEXT NOT NULL,
                wait_ns {int},
                hold_ns {int},
                pid {int},
                thread TEXT,
                task TEXT,
                trace_id TEXT,
                span_id TEXT,
                operation TEXT,
                acquisition TEXT,
                level TEXT NOT NULL DEFAULT 'info',
                details TEXT,
                session_id TEXT
            )""",
            "CREATE INDEX lock_events_trace ON lock_events(trace_id)",
            "CREATE INDEX lock_events_time ON lock_events(time_ns)",
            "CREATE INDEX lock_events_lock ON lock_events(lock_name, time_ns)",
            """CREATE TABLE state_diffs (
                id {id},
                trace_id TEXT,
                span_id TEXT,
                session_id TEXT,
                time_ns {int} NOT NULL,
                duration_ns {int},
                label TEXT NOT NULL,
                before_hash TEXT,
                after_hash TEXT,
                patch TEXT NOT NULL,
                change_count {int} NOT NULL DEFAULT 0,
                truncated {int} NOT NULL DEFAULT 0,
                status TEXT NOT NULL DEFAULT 'ok',
                error_type TEXT,
                pid {int}
            )""",
            "CREATE INDEX state_diffs_trace ON state_diffs(trace_id)",
            "CREATE INDEX state_diffs_time ON state_diffs(time_ns)",
        ),
    ),
    Migration(
        "0030_exporter_stats",
        (
            """CREATE TABLE exporter_stats (
                pid {int} NOT NULL,
                started_ns {int} NOT NULL,
                host TEXT NOT NULL,
                exporter TEXT NOT NULL,
                endpoint TEXT,
                updated_ns {int} NOT NULL,
                sent {int} NOT NULL DEFAULT 0,
                buffered {int} NOT NULL DEFAULT 0,
                buffer_full {int} NOT NULL DEFAULT 0,
                rejected {int} NOT NULL DEFAULT 0,
                retries_exhausted {int} NOT NULL DEFAULT 0,
                shutdown {int} NOT NULL DEFAULT 0,
                PRIMARY KEY (host, pid, started_ns, exporter)
            )""",
        ),
    ),
]


def statements_for(migration: Migration, dialect: str) -> list[str]:
    types = TYPES[dialect]
    return [stmt.format(**types) for stmt in migration.statements]
