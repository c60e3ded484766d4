"""Calls made through the SDKs' other doors: ``with_raw_response`` (headers and the parsed
body), ``with_streaming_response`` (the body left for the caller) and Anthropic's
``client.beta.messages``. Each is recorded with its usage and cost when the body is known."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest
from published_prices import ANTHROPIC_BILL, cost

import spanwise

MESSAGES = [{"role": "user", "content": "Say hello"}]


def test_openai_with_raw_response_keeps_headers_and_records_usage(provider, recorded, instrumented):
    instrumented("openai")
    client = openai.OpenAI(base_url=provider.url + "/v1", api_key="sk-test", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    assert raw.headers["content-type"].startswith("application/json")
    reply = raw.parse()
    assert reply.choices[0].message.content == "Hello, world!"
    call = recorded.one_call().llm
    assert (call.request_model, call.input_tokens, call.output_tokens) == ("gpt-4o", 1200, 300)
    bill = cost("gpt-4o", uncached=176, cache_read=1024, cache_write=0, output=300)
    assert call.cost_usd == pytest.approx(bill, rel=1e-9)
    client.close()


def test_openai_with_streaming_response_leaves_the_body_to_the_caller(
    provider, recorded, instrumented
):
    instrumented("openai")
    client = openai.OpenAI(base_url=provider.url + "/v1", api_key="sk-test", max_retries=0)
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4o", messages=MESSAGES
    ) as response:
        body = b"".join(response.iter_bytes())
    assert b"Hello, world!" in body  # spanwise did not read it first
    call = recorded.one_call().llm
    assert call.request_model == "gpt-4o"
    assert call.input_tokens is None and call.cost_usd is None  # usage unknown: unpriced
    client.close()


def test_anthropic_with_raw_response_records_usage(provider, recorded, instrumented):
    instrumented("anthropic")
    client = anthropic.Anthropic(base_url=provider.url, api_key="sk-ant-test", max_retries=0)
    raw = client.messages.with_raw_response.create(
        model="claude-haiku-4-5", max_tokens=100, messages=MESSAGES
    )
    assert raw.parse().content[0].text == "Hello, world!"
    call = recorded.one_call().llm
    assert (call.input_tokens, call.output_tokens) == (2600, 250)
    assert call.cost_usd == pytest.approx(cost("claude-haiku-4-5", **ANTHROPIC_BILL), rel=1e-9)
    client.close()


def test_anthropic_beta_messages_are_recorded(provider, recorded, instrumented):
    instrumented("anthropic")
    client = anthropic.Anthropic(base_url=provider.url, api_key="sk-ant-test", max_retries=0)
    with spanwise.span("agent") as outer:
        reply = client.beta.messages.create(
            model="claude-haiku-4-5", max_tokens=100, messages=MESSAGES
        )
        with client.beta.messages.stream(
            model="claude-haiku-4-5", max_tokens=100, messages=MESSAGES
        ) as stream:
            text = "".join(stream.text_stream)
    assert reply.content[0].text == "Hello, world!" and text
    calls: list[Any] = recorded.llm_spans
    assert [s.parent_id for s in calls] == [outer.span_id, outer.span_id]
    for s in calls:
        assert (s.llm.input_tokens, s.llm.output_tokens) == (2600, 250)
        assert s.llm.cost_usd == pytest.approx(cost("claude-haiku-4-5", **ANTHROPIC_BILL))
    assert calls[1].llm.streamed is True
    client.close()
