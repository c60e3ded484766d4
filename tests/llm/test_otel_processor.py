"""``spanwise.otel.SpanwiseProcessor`` with the real OpenTelemetry SDK producing GenAI,
older GenAI and OpenInference spans, as instrumentation libraries write them."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode
from published_prices import cost

import spanwise
from spanwise.otel import SpanwiseProcessor


@pytest.fixture
def tracer() -> Any:
    provider = TracerProvider()
    provider.add_span_processor(SpanwiseProcessor())
    yield provider.get_tracer("test.genai.instrumentation")
    provider.shutdown()


def test_genai_v141_span_becomes_a_priced_llm_call(recorded, tracer):
    with tracer.start_as_current_span("invoke_agent planner") as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        agent.set_attribute("gen_ai.usage.input_tokens", 999)  # aggregated: not a call
        with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT) as span:
            span.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.response.model": "gpt-4o-2024-08-06",
                    "gen_ai.usage.input_tokens": 1200,
                    "gen_ai.usage.cache_read.input_tokens": 1024,
                    "gen_ai.usage.output_tokens": 300,
                    "gen_ai.usage.reasoning.output_tokens": 100,
                    "gen_ai.request.stream": True,
                    "gen_ai.response.time_to_first_chunk": 0.25,
                    "gen_ai.response.finish_reasons": ("stop",),
                }
            )
    chat = next(s for s in recorded.spans if s.name == "chat gpt-4o")
    agent_span = next(s for s in recorded.spans if s.name == "invoke_agent planner")
    assert (chat.kind, agent_span.kind, agent_span.llm) == ("llm", "agent", None)
    assert chat.parent_id == agent_span.span_id and chat.trace_id == agent_span.trace_id
    call = chat.llm
    assert (call.provider, call.request_model, call.response_model) == (
        "openai",
        "gpt-4o",
        "gpt-4o-2024-08-06",
    )
    assert (call.input_tokens, call.cache_read_tokens, call.output_tokens) == (1200, 1024, 300)
    assert (call.reasoning_tokens, call.streamed, call.time_to_first_token_ms) == (100, True, 250)
    assert call.finish_reasons == ["stop"]
    assert call.cost_usd == pytest.approx(
        cost("gpt-4o", uncached=176, cache_read=1024, cache_write=0, output=300), rel=1e-9
    )
    assert chat.attributes["otel.scope.name"] == "test.genai.instrumentation"


def test_older_gen_ai_names_are_mapped(recorded, tracer):
    with tracer.start_as_current_span("anthropic.chat") as span:
        span.set_attributes(
            {
                "gen_ai.system": "anthropic",
                "gen_ai.request.model": "claude-haiku-4-5",
                "gen_ai.usage.prompt_tokens": 2600,
                "gen_ai.usage.completion_tokens": 250,
                "gen_ai.usage.cache_read.input_tokens": 2000,
                "gen_ai.usage.cache_creation.input_tokens": 500,
            }
        )
    call = recorded.one_call().llm
    assert (call.provider, call.operation, call.input_tokens, call.output_tokens) == (
        "anthropic",
        "chat",
        2600,
        250,
    )
    assert call.cost_usd == pytest.approx(
        cost("claude-haiku-4-5", uncached=100, cache_read=2000, cache_write=500, output=250),
        rel=1e-9,
    )


def test_cache_tokens_reported_on_top_are_normalized(recorded, tracer):
    # An emitter that copied Anthropic's additive input count: cached exceed "input".
    with tracer.start_as_current_span("chat claude") as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "anthropic",
                "gen_ai.request.model": "claude-haiku-4-5",
                "gen_ai.usage.input_tokens": 100,
                "gen_ai.usage.cache_read.input_tokens": 2000,
                "gen_ai.usage.cache_creation.input_tokens": 500,
                "gen_ai.usage.output_tokens": 250,
            }
        )
    assert recorded.one_call().llm.input_tokens == 2600


def test_openinference_llm_span(recorded, tracer):
    with tracer.start_as_current_span("ChatCompletion") as span:
        span.set_attributes(
            {
                "openinference.span.kind": "LLM",
                "llm.model_name": "gpt-4o-mini-2024-07-18",
                "llm.provider": "openai",
                "llm.token_count.prompt": 1200,
                "llm.token_count.prompt_details.cache_read": 1024,
                "llm.token_count.completion": 300,
                "llm.input_messages.0.message.role": "user",
                "llm.input_messages.0.message.content": "Say hello",
                "input.value": "Say hello",
            }
        )
    s = recorded.one_call()
    assert (s.llm.request_model, s.llm.input_tokens, s.llm.output_tokens) == (
        "gpt-4o-mini-2024-07-18",
        1200,
        300,
    )
    assert s.llm.cost_usd == pytest.approx(
        cost("gpt-4o-mini", uncached=176, cache_read=1024, cache_write=0, output=300), rel=1e-9
    )
    # Content capture is off: prompts are not kept anywhere.
    assert s.llm.prompt is None
    assert not any(k.startswith(("llm.input_messages", "input.value")) for k in s.attributes)


def test_content_is_kept_and_redacted_with_capture_on(tmp_path, tracer):
    from spanwise.testing import InMemoryExporter

    exporter = InMemoryExporter()
    spanwise.configure("trace", home=tmp_path, exporters=[exporter], capture_content=True)
    secret = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0"
    with tracer.start_as_current_span("chat gpt-4o") as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.input.messages": '[{"role": "user", "parts": [{"type": "text", '
                f'"content": "my key is {secret}"}}]}}]',
                "gen_ai.usage.input_tokens": 10,
                "gen_ai.usage.output_tokens": 2,
            }
        )
    spanwise.flush()
    (s,) = exporter.spans
    assert s.llm.prompt == [
        {"role": "user", "parts": [{"type": "text", "content": "my key is [REDACTED]"}]}
    ]
    assert "gen_ai.input.messages" not in s.attributes


def test_errors_and_nesting_under_a_spanwise_span(recorded, tracer):
    with spanwise.span("spanwise step") as outer:
        with tracer.start_as_current_span("chat gpt-4o") as span:
            span.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.provider.name": "openai",
                }
            )
            span.record_exception(TimeoutError("upstream timed out"))
            span.set_status(Status(StatusCode.ERROR, "upstream timed out"))
            with tracer.start_as_current_span("retry bookkeeping"):
                pass
    chat = recorded.one_call()
    child = next(s for s in recorded.spans if s.name == "retry bookkeeping")
    assert (chat.trace_id, chat.parent_id) == (outer.trace_id, outer.span_id)
    assert (child.trace_id, child.parent_id) == (outer.trace_id, chat.span_id)
    assert (chat.status, chat.error_type, chat.error_message) == (
        "error",
        "TimeoutError",
        "upstream timed out",
    )
    assert chat.llm.input_tokens is None  # unknown, never 0
    assert [e[0] for e in chat.events] == ["exception"]


def test_the_processor_does_nothing_while_spanwise_is_off(tracer):
    spanwise.configure("off")
    with tracer.start_as_current_span("chat gpt-4o") as span:
        span.set_attribute("gen_ai.operation.name", "chat")
