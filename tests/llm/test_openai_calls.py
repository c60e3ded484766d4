"""The openai SDK, unmodified, against a local server speaking OpenAI's wire format."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import openai
import pytest
from published_prices import OPENAI_BILL, cost

import spanwise
from spanwise.otel._genai import GENAI

MESSAGES = [{"role": "user", "content": "Say hello"}]


_clients: list[openai.OpenAI] = []


def client(provider: Any) -> openai.OpenAI:
    c = openai.OpenAI(base_url=provider.url + "/v1", api_key="sk-test", max_retries=0)
    _clients.append(c)
    return c


@pytest.fixture(autouse=True)
def _close_clients() -> Any:
    yield
    while _clients:
        _clients.pop().close()


def aclient(provider: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=provider.url + "/v1", api_key="sk-test", max_retries=0)


def scenario(name: str) -> dict[str, Any]:
    return {"extra_headers": {"x-scenario": name}}


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4o-mini"])
def test_chat_call_is_an_llm_span_with_tokens_and_the_published_cost(
    provider, recorded, instrumented, model
):
    instrumented("openai")
    with spanwise.span("agent step") as outer:
        reply = client(provider).chat.completions.create(model=model, messages=MESSAGES)
    assert reply.choices[0].message.content == "Hello, world!"
    s = recorded.one_call()
    assert (s.kind, s.name, s.status) == ("llm", f"chat {model}", "ok")
    assert (s.trace_id, s.parent_id) == (outer.trace_id, outer.span_id)
    call = s.llm
    assert (call.provider, call.request_model, call.operation) == ("openai", model, "chat")
    assert call.response_model.startswith(model + "-20")
    # OpenAI counts cached tokens inside prompt_tokens: stored as they are.
    assert (call.input_tokens, call.cache_read_tokens, call.output_tokens) == (1200, 1024, 300)
    assert call.reasoning_tokens == 100
    assert call.finish_reasons == ["stop"]
    assert call.cost_usd == pytest.approx(cost(model, **OPENAI_BILL), rel=1e-9)
    assert (call.pricing_available, call.price_source) == (True, "genai-prices")
    assert call.price_version
    attrs = s.attributes
    assert attrs[GENAI.OPERATION] == "chat"
    assert attrs[GENAI.PROVIDER] == "openai"
    assert attrs[GENAI.REQUEST_MODEL] == model
    assert attrs[GENAI.INPUT_TOKENS] == 1200
    assert attrs[GENAI.SERVER_ADDRESS] == "127.0.0.1"
    assert attrs[GENAI.RESPONSE_ID] == "chatcmpl-test1"


def test_request_parameters_become_genai_request_attributes(provider, recorded, instrumented):
    instrumented("openai")
    client(provider).chat.completions.create(
        model="gpt-4o",
        messages=MESSAGES,
        max_tokens=50,
        temperature=0.2,
        top_p=0.9,
        stop=["END"],
        seed=7,
    )
    attrs = recorded.one_call().attributes
    assert attrs[GENAI.REQUEST_MAX_TOKENS] == 50
    assert attrs[GENAI.REQUEST_TEMPERATURE] == 0.2
    assert attrs[GENAI.REQUEST_TOP_P] == 0.9
    assert attrs[GENAI.REQUEST_STOP_SEQUENCES] == ["END"]
    assert attrs[GENAI.REQUEST_SEED] == 7


def test_async_chat_call_nests_under_the_callers_span(provider, recorded, instrumented):
    instrumented("openai")

    async def main() -> Any:
        async with aclient(provider) as c:
            with spanwise.span("async step") as outer:
                reply = await c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        return outer, reply

    outer, reply = asyncio.run(main())
    assert reply.usage.prompt_tokens == 1200
    s = recorded.one_call()
    assert s.parent_id == outer.span_id
    assert s.llm.cost_usd == pytest.approx(cost("gpt-4o-mini", **OPENAI_BILL), rel=1e-9)


def test_stream_takes_usage_from_the_final_chunk_and_times_the_first_token(
    provider, recorded, instrumented
):
    instrumented("openai")
    stream = client(provider).chat.completions.create(
        model="gpt-4o",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        **scenario("slow_first"),
    )
    assert isinstance(stream, openai.Stream)  # the caller's type checks still hold
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "Hello, world!"
    s = recorded.one_call()
    call = s.llm
    assert call.streamed is True
    assert (call.input_tokens, call.cache_read_tokens, call.output_tokens) == (1200, 1024, 300)
    assert call.cost_usd == pytest.approx(cost("gpt-4o", **OPENAI_BILL), rel=1e-9)
    duration_ms = (s.end_ns - s.start_ns) / 1e6
    # The server waits 150 ms before the first content chunk.
    assert 150 <= call.time_to_first_token_ms <= duration_ms
    assert s.attributes[GENAI.TIME_TO_FIRST_CHUNK] == pytest.approx(
        call.time_to_first_token_ms / 1000
    )
    assert s.attributes[GENAI.REQUEST_STREAM] is True


def test_stream_without_usage_records_unknown_tokens_not_zero(provider, recorded, instrumented):
    instrumented("openai")
    chunks = list(
        client(provider).chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    )
    assert chunks[-1].choices[0].finish_reason == "stop"
    call = recorded.one_call()
    assert (call.llm.input_tokens, call.llm.output_tokens) == (None, None)
    assert call.llm.cost_usd is None
    assert call.llm.pricing_available is False
    assert call.attributes[GENAI.USAGE_MISSING] is True
    assert GENAI.STREAM_INCOMPLETE not in call.attributes


def _chunks(stream: Any) -> list[dict[str, Any]]:
    return [c.model_dump() for c in stream]


def test_the_caller_sees_the_same_chunks_with_and_without_spanwise(
    provider, recorded, instrumented
):
    request = {
        "model": "gpt-4o",
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    plain = _chunks(client(provider).chat.completions.create(**request))
    instrumented("openai")
    observed = _chunks(client(provider).chat.completions.create(**request))
    assert observed == plain
    assert len(recorded.llm_spans) == 1


@pytest.mark.parametrize(
    ("name", "error", "status"),
    [("rate_limit", openai.RateLimitError, 429), ("server_error", openai.InternalServerError, 500)],
)
def test_http_errors_are_error_spans_and_reach_the_caller_unchanged(
    provider, recorded, instrumented, name, error, status
):
    request = {"model": "gpt-4o", "messages": MESSAGES, **scenario(name)}
    with pytest.raises(error) as plain:
        client(provider).chat.completions.create(**request)
    instrumented("openai")
    with pytest.raises(error) as observed:
        client(provider).chat.completions.create(**request)
    assert type(observed.value) is type(plain.value)
    assert str(observed.value) == str(plain.value)
    assert observed.value.status_code == status
    s = recorded.one_call()
    assert (s.status, s.error_type) == ("error", error.__name__)
    assert s.attributes[GENAI.ERROR_TYPE] == error.__name__
    assert s.attributes["http.response.status_code"] == status
    assert s.llm.input_tokens is None


def test_a_stream_cut_mid_body_raises_what_it_would_and_is_recorded_incomplete(
    provider, recorded, instrumented
):
    def read_until_cut() -> tuple[int, type[BaseException]]:
        seen = []
        # httpx's own error, or the SDK's wrapper of it (openai 3.6x and later).
        with pytest.raises((httpx.RemoteProtocolError, openai.APIConnectionError)) as raised:
            for chunk in client(provider).chat.completions.create(
                model="gpt-4o", messages=MESSAGES, stream=True, **scenario("truncated")
            ):
                seen.append(chunk)
        return len(seen), raised.type

    uninstrumented = read_until_cut()
    instrumented("openai")
    assert read_until_cut() == uninstrumented
    assert uninstrumented[0] == 3
    s = recorded.one_call()
    assert (s.status, s.error_type) == ("error", uninstrumented[1].__name__)
    assert s.attributes[GENAI.STREAM_INCOMPLETE] is True
    assert s.llm.output_tokens is None


def test_a_stream_that_ends_early_is_marked_incomplete(provider, recorded, instrumented):
    instrumented("openai")
    chunks = list(
        client(provider).chat.completions.create(
            model="gpt-4o",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
            **scenario("ends_early"),
        )
    )
    assert len(chunks) == 3
    s = recorded.one_call()
    assert s.status == "ok"
    assert s.attributes[GENAI.STREAM_INCOMPLETE] is True
    assert s.attributes[GENAI.USAGE_MISSING] is True


def test_an_error_event_mid_stream_is_an_error_span(provider, recorded, instrumented):
    instrumented("openai")
    with pytest.raises(openai.APIError, match="overloaded mid-stream"):
        list(
            client(provider).chat.completions.create(
                model="gpt-4o", messages=MESSAGES, stream=True, **scenario("stream_error")
            )
        )
    s = recorded.one_call()
    assert (s.status, s.error_type) == ("error", "APIError")


def test_unexpected_fields_change_nothing_for_the_caller(provider, recorded, instrumented):
    plain = client(provider).chat.completions.create(
        model="gpt-4o", messages=MESSAGES, **scenario("odd_fields")
    )
    instrumented("openai")
    observed = client(provider).chat.completions.create(
        model="gpt-4o", messages=MESSAGES, **scenario("odd_fields")
    )
    assert observed.model_dump() == plain.model_dump()
    call = recorded.one_call().llm
    assert (call.input_tokens, call.output_tokens, call.reasoning_tokens) == (1200, 300, None)


def test_chat_stream_helper_is_recorded_once(provider, recorded, instrumented):
    instrumented("openai")
    with client(provider).chat.completions.stream(
        model="gpt-4o-mini", messages=MESSAGES, stream_options={"include_usage": True}
    ) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "Hello, world!"
    call = recorded.one_call().llm
    assert (call.input_tokens, call.output_tokens, call.streamed) == (1200, 300, True)


def test_responses_api_sync_and_streamed(provider, recorded, instrumented):
    instrumented("openai")
    c = client(provider)
    reply = c.responses.create(model="gpt-4o", input="Say hello", instructions="Be brief")
    assert reply.output_text == "Hello, world!"
    with c.responses.stream(model="gpt-4o", input="Say hello") as stream:
        for _ in stream:
            pass
        assert stream.get_final_response().usage.input_tokens == 1200
    calls = [s.llm for s in recorded.llm_spans]
    assert len(calls) == 2
    expected = cost("gpt-4o", **OPENAI_BILL)
    for call in calls:
        assert (call.operation, call.input_tokens, call.cache_read_tokens) == ("chat", 1200, 1024)
        assert (call.output_tokens, call.reasoning_tokens) == (300, 100)
        assert call.cost_usd == pytest.approx(expected, rel=1e-9)
        assert call.finish_reasons == ["completed"]
    assert [c.streamed for c in calls] == [False, True]
    assert calls[1].time_to_first_token_ms is not None


def test_embeddings_count_input_tokens_and_no_output(provider, recorded, instrumented):
    instrumented("openai")
    result = client(provider).embeddings.create(
        model="text-embedding-3-small", input=["alpha", "beta"]
    )
    assert len(result.data) == 2
    s = recorded.one_call()
    assert (s.name, s.llm.operation) == ("embeddings text-embedding-3-small", "embeddings")
    assert (s.llm.input_tokens, s.llm.output_tokens) == (8, 0)
    assert s.attributes[GENAI.EMBEDDINGS_DIMENSION] == 4
    assert s.llm.cost_usd == pytest.approx(8 * 0.02 / 1_000_000, rel=1e-9)  # $0.02 per M


def test_legacy_completions(provider, recorded, instrumented):
    instrumented("openai")
    client(provider).completions.create(model="gpt-4o-mini", prompt="Say hello")
    call = recorded.one_call().llm
    assert (call.operation, call.input_tokens, call.finish_reasons) == (
        "text_completion",
        1200,
        ["length"],
    )


def test_instrumenting_twice_records_once_and_undo_removes_it(provider, recorded):
    first = spanwise.instrument("openai")
    second = spanwise.instrument("openai")
    client(provider).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert len(recorded.llm_spans) == 1
    first.undo()
    second.undo()
    from openai.resources.chat.completions import Completions

    assert not hasattr(Completions.create, "__spanwise_original__")
    client(provider).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert len(recorded.llm_spans) == 1


def test_nothing_is_recorded_or_wrapped_while_spanwise_is_off(provider, instrumented):
    instrumented("openai")
    spanwise.configure("off")
    stream = client(provider).chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True
    )
    assert type(stream) is openai.Stream
    list(stream)


def test_metrics_mode_counts_calls_tokens_and_cost_without_a_store(
    provider, instrumented, tmp_path
):
    instrumented("openai")
    spanwise.configure("metrics", home=tmp_path)
    client(provider).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    list(client(provider).chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    summary = spanwise.summary()
    assert (summary["llm_calls"], summary["llm_calls_without_usage"]) == (2, 1)
    assert summary["tokens"]["input"] == 1200
    assert summary["cost_usd"] is None  # one call's cost is unknown: never a guessed total
    assert summary["partial_cost_usd"] == pytest.approx(cost("gpt-4o", **OPENAI_BILL), rel=1e-9)
    assert not (tmp_path / "spanwise.db").exists()
