"""The attribute mapping shared by the OpenTelemetry processor and OTLP ingest, and the
OTLP encoding shared by the sink and ``spanwise export --format otlp``."""

from __future__ import annotations

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from otlp_receiver import attributes

from spanwise._llm_record import LlmCall
from spanwise._span import Span
from spanwise.otel._encode import encode_spans
from spanwise.otel._genai import llm_call_from_attributes


def test_spans_that_are_not_llm_calls_map_to_none():
    assert llm_call_from_attributes({}) is None
    assert llm_call_from_attributes({"http.method": "GET"}) is None
    assert llm_call_from_attributes({"gen_ai.operation.name": "execute_tool"}) is None
    assert llm_call_from_attributes({"openinference.span.kind": "CHAIN"}) is None
    # A model name without any usage is not enough to call a span an LLM call.
    assert llm_call_from_attributes({"gen_ai.request.model": "gpt-4o"}) is None


def test_old_provider_names_and_loose_values_are_normalized():
    call = llm_call_from_attributes(
        {
            "gen_ai.system": "az.ai.openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.prompt_tokens": "12",  # some emitters send strings
            "gen_ai.usage.completion_tokens": 3.0,
            "gen_ai.response.finish_reasons": '["stop", "length"]',
        }
    )
    assert call is not None
    assert (call.provider, call.input_tokens, call.output_tokens) == ("azure.ai.openai", 12, 3)
    assert call.finish_reasons == ["stop", "length"]


def test_unknown_token_values_stay_unknown():
    call = llm_call_from_attributes(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "m",
            "gen_ai.usage.input_tokens": -1,
            "gen_ai.usage.output_tokens": True,
        }
    )
    assert call is not None and (call.input_tokens, call.output_tokens) == (None, None)


def test_encoded_spans_decode_with_opentelemetry_proto():
    s = Span(
        "chat gpt-4o", {"tags": ["a", "b"], "mixed": [1, "x"], "big": 2**70, "cfg": {"k": 1}}, "llm"
    )
    s.trace_id, s.span_id, s.parent_id, s.start_ns, s.end_ns = 5, 6, 4, 100, 250
    s.llm = LlmCall(
        "openai",
        "gpt-4o",
        input_tokens=10,
        output_tokens=2,
        streamed=True,
        prompt=[{"role": "user", "content": "hi"}],
    )
    s.add_event("retry", attempt=2)
    request = ExportTraceServiceRequest()
    request.ParseFromString(encode_spans([s], {"service.name": "svc"}))
    (pb,) = request.resource_spans[0].scope_spans[0].spans
    assert (pb.name, pb.kind, pb.start_time_unix_nano, pb.end_time_unix_nano) == (
        "chat gpt-4o",
        3,
        100,
        250,
    )
    assert int.from_bytes(pb.parent_span_id, "big") == 4
    attrs = attributes(pb.attributes)
    assert attrs["tags"] == ["a", "b"]
    assert attrs["mixed"] == '[1,"x"]'
    assert attrs["big"] == str(2**70)
    assert attrs["cfg"] == '{"k":1}'
    assert attrs["gen_ai.input.messages"] == '[{"role":"user","content":"hi"}]'
    assert attrs["gen_ai.usage.input_tokens"] == 10
    assert "spanwise.cost_usd" not in attrs  # not priced: no cost, never 0
    assert [e.name for e in pb.events] == ["retry"]
    assert attributes(request.resource_spans[0].resource.attributes) == {"service.name": "svc"}
