"""The anthropic SDK, unmodified, against a local server speaking Anthropic's wire format
(message JSON and the message_start … message_stop event stream)."""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic
import pytest
from published_prices import ANTHROPIC_BILL, cost

import spanwise
from spanwise.otel._genai import GENAI

MESSAGES = [{"role": "user", "content": "Say hello"}]
_clients: list[Any] = []


def client(provider: Any) -> anthropic.Anthropic:
    c = anthropic.Anthropic(base_url=provider.url, api_key="sk-ant-test", max_retries=0)
    _clients.append(c)
    return c


@pytest.fixture(autouse=True)
def _close_clients() -> Any:
    yield
    while _clients:
        _clients.pop().close()


def scenario(name: str) -> dict[str, Any]:
    return {"extra_headers": {"x-scenario": name}}


def assert_normalized(call: Any, model: str) -> None:
    # Anthropic: 100 input + 2000 cache reads + 500 cache writes, reported additively.
    assert call.input_tokens == 2600
    assert (call.cache_read_tokens, call.cache_write_tokens, call.output_tokens) == (2000, 500, 250)
    assert call.cost_usd == pytest.approx(cost(model, **ANTHROPIC_BILL), rel=1e-9)


@pytest.mark.parametrize("model", ["claude-haiku-4-5", "claude-opus-4-1"])
def test_messages_create_normalizes_cached_tokens_to_inclusive(
    provider, recorded, instrumented, model
):
    instrumented("anthropic")
    with spanwise.span("plan") as outer:
        reply = client(provider).messages.create(model=model, max_tokens=100, messages=MESSAGES)
    assert reply.content[0].text == "Hello, world!"
    assert reply.usage.input_tokens == 100  # the caller still sees Anthropic's own numbers
    s = recorded.one_call()
    assert (s.name, s.parent_id, s.kind) == (f"chat {model}", outer.span_id, "llm")
    assert (s.llm.provider, s.llm.finish_reasons) == ("anthropic", ["end_turn"])
    assert_normalized(s.llm, model)
    assert s.attributes[GENAI.INPUT_TOKENS] == 2600
    assert s.attributes[GENAI.CACHE_CREATION_TOKENS] == 500
    assert s.attributes[GENAI.REQUEST_MAX_TOKENS] == 100


def test_create_with_stream_true_reads_message_start_and_message_delta(
    provider, recorded, instrumented
):
    instrumented("anthropic")
    stream = client(provider).messages.create(
        model="claude-haiku-4-5",
        max_tokens=100,
        messages=MESSAGES,
        stream=True,
        **scenario("slow_first"),
    )
    assert isinstance(stream, anthropic.Stream)
    kinds = [event.type for event in stream]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    s = recorded.one_call()
    assert_normalized(s.llm, "claude-haiku-4-5")
    assert s.llm.streamed is True
    assert 150 <= s.llm.time_to_first_token_ms <= (s.end_ns - s.start_ns) / 1e6


def test_stream_helper_text_stream_and_final_message(provider, recorded, instrumented):
    instrumented("anthropic")
    with client(provider).messages.stream(
        model="claude-opus-4-1", max_tokens=100, messages=MESSAGES
    ) as stream:
        assert isinstance(stream, anthropic.MessageStream)
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello, world!"
    assert final.usage.output_tokens == 250
    s = recorded.one_call()
    assert_normalized(s.llm, "claude-opus-4-1")
    assert s.llm.time_to_first_token_ms is not None


def test_stream_helper_get_final_text_without_iterating(provider, recorded, instrumented):
    instrumented("anthropic")
    with client(provider).messages.stream(
        model="claude-haiku-4-5", max_tokens=100, messages=MESSAGES
    ) as stream:
        assert stream.get_final_text() == "Hello, world!"
    assert_normalized(recorded.one_call().llm, "claude-haiku-4-5")


def test_async_create_stream_and_helper(provider, recorded, instrumented):
    instrumented("anthropic")

    async def main() -> None:
        async with anthropic.AsyncAnthropic(
            base_url=provider.url, api_key="sk-ant-test", max_retries=0
        ) as c:
            with spanwise.span("async plan"):
                await c.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES)
                stream = await c.messages.create(
                    model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES, stream=True
                )
                async for _ in stream:
                    pass
                async with c.messages.stream(
                    model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES
                ) as helper:
                    parts = [t async for t in helper.text_stream]
                    assert "".join(parts) == "Hello, world!"
                    assert (await helper.get_final_message()).usage.output_tokens == 250

    asyncio.run(main())
    spans = recorded.llm_spans
    assert [s.llm.streamed for s in spans] == [False, True, True]
    parent = next(s for s in recorded.spans if s.name == "async plan")
    for s in spans:
        assert s.parent_id == parent.span_id
        assert_normalized(s.llm, "claude-haiku-4-5")


def test_rate_limit_is_an_error_span_and_the_same_exception(provider, recorded, instrumented):
    with pytest.raises(anthropic.RateLimitError) as plain:
        client(provider).messages.create(
            model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES, **scenario("rate_limit")
        )
    instrumented("anthropic")
    with pytest.raises(anthropic.RateLimitError) as observed:
        with client(provider).messages.stream(
            model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES, **scenario("rate_limit")
        ):
            pass
    assert str(observed.value) == str(plain.value)
    s = recorded.one_call()
    assert (s.status, s.attributes[GENAI.ERROR_TYPE]) == ("error", "RateLimitError")
    assert s.attributes["http.response.status_code"] == 429


def test_truncated_stream_keeps_the_known_input_and_marks_output_unknown(
    provider, recorded, instrumented
):
    instrumented("anthropic")
    with pytest.raises(Exception) as caught:  # the transport's own error, whatever it is
        with client(provider).messages.stream(
            model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES, **scenario("truncated")
        ) as stream:
            stream.until_done()
    assert "incomplete chunked read" in str(caught.value)
    s = recorded.one_call()
    assert s.status == "error"
    assert s.attributes[GENAI.STREAM_INCOMPLETE] is True
    assert (s.llm.input_tokens, s.llm.output_tokens, s.llm.cost_usd) == (2600, None, None)


def test_no_usage_records_unknown_tokens(provider, recorded, instrumented):
    instrumented("anthropic")
    client(provider).messages.create(
        model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES, **scenario("no_usage")
    )
    s = recorded.one_call()
    assert (s.llm.input_tokens, s.llm.output_tokens, s.llm.cost_usd) == (None, None, None)
    assert s.attributes[GENAI.USAGE_MISSING] is True


def test_undo_restores_the_sdk(provider, recorded):
    handle = spanwise.instrument("anthropic")
    handle.undo()
    client(provider).messages.create(model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES)
    with client(provider).messages.stream(
        model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES
    ) as stream:
        assert type(stream) is anthropic.MessageStream
        stream.until_done()
    assert recorded.llm_spans == []
