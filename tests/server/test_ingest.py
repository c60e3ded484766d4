"""OTLP/HTTP ingest at /v1/traces: both encodings, gzip, limits and errors, pricing,
replies in the request's content type, and idempotent retries."""

from __future__ import annotations

import asyncio
import gzip
import json
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from server.conftest import make_client
from spanwise.server._otlp_body import BodyError, read_body

PB = {"content-type": "application/x-protobuf"}
JS = {"content-type": "application/json"}
MIB = 1024 * 1024


class _Collect(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Any) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def sdk_request(session: str = "sess-1") -> bytes:
    """An ExportTraceServiceRequest made by the real OpenTelemetry SDK and its encoder:
    an agent span with one priced chat call and one call to an unknown model."""
    collect = _Collect()
    provider = TracerProvider(resource=Resource.create({"service.name": "ingest-test"}))
    provider.add_span_processor(SimpleSpanProcessor(collect))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("agent") as root:
        root.set_attribute("session.id", session)
        with tracer.start_as_current_span("chat gpt-4o") as s:
            s.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.usage.input_tokens": 1000,
                    "gen_ai.usage.output_tokens": 100,
                }
            )
        with tracer.start_as_current_span("chat homegrown") as s:
            s.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "acme",
                    "gen_ai.request.model": "homegrown-7b",
                    "gen_ai.usage.input_tokens": 5,
                    "gen_ai.usage.output_tokens": 5,
                }
            )
    provider.shutdown()
    return bytes(encode_spans(collect.spans).SerializeToString())


TRACE_HEX = "5b8efff798038103d269b633813fc60c"


def json_request(trace_hex: str = TRACE_HEX, bad_span: bool = False) -> dict[str, Any]:
    """OTLP/JSON as the specification writes it: hex ids, integer enums, string int64."""
    spans = [
        {
            "traceId": trace_hex,
            "spanId": "eee19b7ec3c1b174",
            "name": "json root",
            "kind": 2,
            "startTimeUnixNano": "1544712660000000000",
            "endTimeUnixNano": "1544712661000000000",
            "attributes": [{"key": "http.method", "value": {"stringValue": "GET"}}],
        },
        {
            "traceId": trace_hex,
            "spanId": "eee19b7ec3c1b175",
            "parentSpanId": "eee19b7ec3c1b174",
            "name": "chat",
            "kind": 3,
            "startTimeUnixNano": "1544712660100000000",
            "endTimeUnixNano": "1544712660900000000",
            "status": {"code": 2, "message": "rate limited"},
            "attributes": [
                {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
                {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
                {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "2000"}},
                {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 400}},
            ],
        },
    ]
    if bad_span:
        spans.append(
            {
                "traceId": "not-hex",
                "spanId": "0011223344556677",
                "name": "bad",
                "startTimeUnixNano": "1",
                "endTimeUnixNano": "2",
            }
        )
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "json-sender"}}]
                },
                "scopeSpans": [{"scope": {"name": "manual"}, "spans": spans}],
            }
        ]
    }


@pytest.fixture
def ingest(empty_store: str) -> Iterator[TestClient]:
    with make_client(empty_store) as c:
        yield c


def traces(c: TestClient) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = c.get("/api/traces").json()["items"]
    return items


def test_protobuf_from_the_sdk_is_stored_and_priced(ingest: TestClient) -> None:
    r = ingest.post("/v1/traces", content=sdk_request(), headers=PB)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-protobuf"
    reply = trace_service_pb2.ExportTraceServiceResponse()
    reply.ParseFromString(r.content)
    assert reply.partial_success.rejected_spans == 0
    [t] = traces(ingest)
    assert t["name"] == "agent" and t["session_id"] == "sess-1"
    assert t["span_count"] == 3 and t["llm_call_count"] == 2
    # gpt-4o: 1000 in at $2.50/M + 100 out at $10/M; the unknown model is unpriced, not $0
    assert t["cost_usd"] == pytest.approx(0.0035)
    assert t["unpriced_calls"] == 1
    assert t["models"] == ["gpt-4o", "homegrown-7b"]


def test_json_with_hex_ids_keeps_ids_links_and_errors(ingest: TestClient) -> None:
    r = ingest.post("/v1/traces", json=json_request())
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {}
    detail = ingest.get(f"/api/traces/{TRACE_HEX}").json()
    assert detail["trace"]["trace_id"] == TRACE_HEX
    by_name = {s["name"]: s for s in detail["spans"]}
    assert by_name["chat"]["parent_span_id"] == "eee19b7ec3c1b174"
    assert by_name["chat"]["status"] == "error" and by_name["chat"]["kind"] == "llm"
    assert by_name["chat"]["cost_usd"] == pytest.approx(2000 * 2.5e-6 + 400 * 1e-5)
    span = ingest.get(f"/api/traces/{TRACE_HEX}/spans/eee19b7ec3c1b175").json()
    assert span["error_message"] == "rate limited"
    assert span["attributes"]["service.name"] == "json-sender"
    assert detail["trace"]["start_ns"] == 1544712660000000000


@pytest.mark.parametrize("kind", ["json", "protobuf"])
def test_gzip_bodies_are_accepted(ingest: TestClient, kind: str) -> None:
    body = json.dumps(json_request()).encode() if kind == "json" else sdk_request()
    headers = {**(JS if kind == "json" else PB), "content-encoding": "gzip"}
    r = ingest.post("/v1/traces", content=gzip.compress(body), headers=headers)
    assert r.status_code == 200
    assert len(traces(ingest)) == 1


def test_a_retried_request_is_not_counted_twice(ingest: TestClient) -> None:
    body = sdk_request()
    for _ in range(3):
        assert ingest.post("/v1/traces", content=body, headers=PB).status_code == 200
    [t] = traces(ingest)
    assert t["span_count"] == 3
    assert t["cost_usd"] == pytest.approx(0.0035)
    assert ingest.get("/api/health").json()["ingest"]["duplicates"] == 6


def test_spans_with_bad_ids_are_rejected_alone(ingest: TestClient) -> None:
    r = ingest.post("/v1/traces", json=json_request(bad_span=True))
    assert r.status_code == 200
    partial = r.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1"
    assert "invalid trace id" in partial["errorMessage"]
    assert traces(ingest)[0]["span_count"] == 2


def test_unsupported_content_type_is_415_in_json(ingest: TestClient) -> None:
    r = ingest.post("/v1/traces", content=b"hello", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    assert r.headers["content-type"] == "application/json"
    assert "unsupported content type" in r.json()["message"]
    r = ingest.post("/v1/traces", content=b"x", headers={**PB, "content-encoding": "br"})
    assert r.status_code == 415
    status = status_pb2.Status()
    status.ParseFromString(r.content)
    assert "Content-Encoding" in status.message


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        (PB, b"\xff\xff\xff garbage"),
        (JS, b"{not json"),
        (JS, b'{"resourceSpans": {"oops": 1}}'),
        (
            JS,
            json.dumps(
                {
                    "resourceSpans": [
                        {
                            "scopeSpans": [
                                {
                                    "spans": [
                                        {
                                            "traceId": TRACE_HEX,
                                            "spanId": "eee19b7ec3c1b174",
                                            "name": "x",
                                            "startTimeUnixNano": "soon",
                                        }
                                    ]
                                }
                            ]
                        }
                    ]
                }
            ).encode(),
        ),
        ({**JS, "content-encoding": "gzip"}, b"not gzip at all"),
        ({**JS, "content-encoding": "gzip"}, gzip.compress(b"{}" * 1000)[:-20]),
    ],
    ids=["protobuf", "json-syntax", "json-shape", "json-types", "gzip", "gzip-truncated"],
)
def test_malformed_payloads_are_400_in_the_request_type(
    ingest: TestClient, headers: dict[str, str], body: bytes
) -> None:
    r = ingest.post("/v1/traces", content=body, headers=headers)
    assert r.status_code == 400
    assert r.headers["content-type"] == headers["content-type"]
    if headers["content-type"] == "application/json":
        assert r.json()["code"] == 3
    else:
        status = status_pb2.Status()
        status.ParseFromString(r.content)
        assert status.code == 3 and status.message
    assert traces(ingest) == []


def test_body_over_64_mib_is_413(ingest: TestClient) -> None:
    big = b"\0" * (64 * MIB + 1)
    r = ingest.post("/v1/traces", content=big, headers=PB)
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/x-protobuf"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while reading
        for _ in range(65):
            yield b"\0" * MIB

    r = ingest.post("/v1/traces", content=chunks(), headers=JS)
    assert r.status_code == 413
    assert "64" in r.json()["message"] or "67108864" in r.json()["message"]


def test_gzip_bomb_is_413_after_decompression(ingest: TestClient) -> None:
    bomb = gzip.compress(b"\0" * (65 * MIB), compresslevel=9)
    assert len(bomb) < MIB
    r = ingest.post("/v1/traces", content=bomb, headers={**PB, "content-encoding": "gzip"})
    assert r.status_code == 413
    assert "after decompression" in _status_message(r.content)
    assert ingest.get("/api/health").json()["ingest"]["rejected"]["too_large"] == 1


def _status_message(body: bytes) -> str:
    status = status_pb2.Status()
    status.ParseFromString(body)
    return str(status.message)


async def _one(body: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(body), 64 * 1024):
        yield body[i : i + 64 * 1024]


def test_decompression_never_holds_more_than_the_limit() -> None:
    limit = 8 * MIB
    bomb = gzip.compress(b"\0" * (512 * MIB), compresslevel=9)
    tracemalloc.start()
    try:
        with pytest.raises(BodyError) as info:
            asyncio.run(read_body(_one(bomb), "gzip", limit))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.status == 413
    assert peak < 2 * limit + len(bomb)
    small = gzip.compress(b"ok" * 10)
    assert asyncio.run(read_body(_one(small), "gzip", limit)) == b"ok" * 10


def test_empty_request_is_success(ingest: TestClient) -> None:
    r = ingest.post("/v1/traces", content=b"", headers=PB)
    assert r.status_code == 200
    assert r.content == b""


def test_hostile_attributes_are_stored_verbatim_or_capped(ingest: TestClient) -> None:
    nasty = {
        "__proto__": "x",
        "constructor": "<script>",
        "../../etc/passwd": "\u0000nul",
        "k" * 5000: "long key",
        "deep": {"kvlistValue": None},
    }
    attrs = [{"key": k, "value": {"stringValue": v}} for k, v in nasty.items() if k != "deep"]
    deep: dict[str, Any] = {"stringValue": "bottom"}
    for _ in range(50):
        deep = {"arrayValue": {"values": [deep]}}
    attrs.append({"key": "deep", "value": deep})
    attrs.extend({"key": f"many.{i}", "value": {"intValue": i}} for i in range(2000))
    payload = json_request()
    payload["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"] = attrs
    payload["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["name"] = "x\u0000y"
    assert ingest.post("/v1/traces", json=payload).status_code == 200
    span = ingest.get(f"/api/traces/{TRACE_HEX}/spans/eee19b7ec3c1b174").json()
    stored = span["attributes"]
    assert stored["__proto__"] == "x" and stored["constructor"] == "<script>"
    assert stored["../../etc/passwd"] == "\ufffdnul"
    assert "k" * 256 in stored and "k" * 257 not in stored
    assert len(stored) <= 512 + 1
    assert span["name"] == "x\ufffdy"
