"""Schemathesis against the OpenAPI document, in-process through the ASGI seam: every
operation, OTLP ingest included, answers generated valid and invalid requests without a
server error, and successful JSON replies match their documented schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from server.helpers import record_sample, sqlite_url
from spanwise.server import ServerConfig, create_app

HOST = {"host": "127.0.0.1:7842"}


@pytest.fixture
def api_schema(tmp_path: Path) -> Any:
    home = tmp_path / "fuzz-home"
    record_sample(home)
    app = create_app(ServerConfig(store_url=sqlite_url(home)))
    return schemathesis.openapi.from_asgi("/openapi.json", app, headers=HOST)


def _run(operation: Any, mode: GenerationMode, examples: int) -> int:
    calls = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def check(case: Any) -> None:
        nonlocal calls
        response = case.call(headers=HOST)
        calls += 1
        case.validate_response(response, checks=[not_a_server_error])
        if (
            mode is GenerationMode.POSITIVE
            and response.status_code == 200
            and (case.path.startswith("/api/"))
        ):
            case.validate_response(response)

    check()
    return calls


@pytest.mark.parametrize(
    "mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"]
)
def test_no_operation_fails_with_a_server_error(api_schema: Any, mode: GenerationMode) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert {
        "POST /v1/traces",
        "GET /api/traces",
        "GET /api/traces/{trace_id}",
        "GET /api/cost",
        "GET /api/health",
    } <= labels
    for operation in operations:
        has_inputs = bool(list(operation.iter_parameters())) or bool(list(operation.body))
        if mode is GenerationMode.NEGATIVE and not has_inputs:
            continue  # nothing to get wrong
        assert _run(operation, mode, examples=15) > 0, operation.label
