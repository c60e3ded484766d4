"""litellm, unmodified, routed to the local server through ``api_base``: OpenAI,
DeepSeek and Mistral (OpenAI-compatible wire format) and Anthropic."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import litellm
import pytest
from published_prices import ANTHROPIC_BILL, OPENAI_BILL, cost

import spanwise
from spanwise.otel._genai import GENAI

# litellm 1.106's own types trip a pydantic warning on first use, and the event loops it
# makes for its async clients are left unclosed (a socketpair each): theirs, not ours.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Item .* `ReadOnly` qualifier:UserWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(autouse=True)
def _collect_litellm_leftovers() -> Any:
    yield
    gc.collect()  # so what litellm leaks is reported here, under the filters above


MESSAGES = [{"role": "user", "content": "Say hello"}]

# (litellm model, provider recorded, model priced, usage as billed, path under the server)
ROUTES = [
    ("openai/gpt-4o", "openai", "gpt-4o", OPENAI_BILL, "/v1"),
    ("deepseek/deepseek-chat", "deepseek", "deepseek-chat", OPENAI_BILL, "/v1"),
    ("mistral/mistral-small-latest", "mistral_ai", "mistral-small-latest", OPENAI_BILL, "/v1"),
    ("anthropic/claude-haiku-4-5", "anthropic", "claude-haiku-4-5", ANTHROPIC_BILL, ""),
]


def _kwargs(provider: Any, path: str, **extra: Any) -> dict[str, Any]:
    return {"messages": MESSAGES, "api_base": provider.url + path, "api_key": "sk-test", **extra}


@pytest.mark.parametrize(("model", "recorded_provider", "priced", "bill", "path"), ROUTES)
def test_completion_records_tokens_and_the_published_cost(
    provider, recorded, instrumented, model, recorded_provider, priced, bill, path
):
    instrumented("litellm")
    with spanwise.span("router") as outer:
        reply = litellm.completion(model=model, **_kwargs(provider, path))
    assert reply.choices[0].message.content == "Hello, world!"
    s = recorded.one_call()
    assert (s.name, s.parent_id) == (f"chat {model}", outer.span_id)
    call = s.llm
    assert call.provider == recorded_provider
    assert call.input_tokens == bill["uncached"] + bill["cache_read"] + bill["cache_write"]
    assert call.cache_read_tokens == bill["cache_read"]
    assert call.output_tokens == bill["output"]
    assert call.cost_usd == pytest.approx(cost(priced, **bill), rel=1e-9)


@pytest.mark.parametrize(
    ("model", "priced", "bill", "path"),
    [
        ("deepseek/deepseek-chat", "deepseek-chat", OPENAI_BILL, "/v1"),
        ("anthropic/claude-haiku-4-5", "claude-haiku-4-5", ANTHROPIC_BILL, ""),
    ],
)
def test_streamed_completion_takes_usage_from_the_last_chunk(
    provider, recorded, instrumented, model, priced, bill, path
):
    instrumented("litellm")
    stream = litellm.completion(
        model=model,
        stream=True,
        stream_options={"include_usage": True},
        **_kwargs(provider, path, extra_headers={"x-scenario": "slow_first"}),
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "Hello, world!"
    s = recorded.one_call()
    assert s.llm.streamed is True
    assert s.llm.cost_usd == pytest.approx(cost(priced, **bill), rel=1e-9)
    assert 150 <= s.llm.time_to_first_token_ms <= (s.end_ns - s.start_ns) / 1e6


def test_acompletion_and_async_stream(provider, recorded, instrumented):
    instrumented("litellm")

    async def main() -> None:
        with spanwise.span("async router"):
            await litellm.acompletion(model="openai/gpt-4o-mini", **_kwargs(provider, "/v1"))
            stream = await litellm.acompletion(
                model="anthropic/claude-haiku-4-5",
                stream=True,
                stream_options={"include_usage": True},
                **_kwargs(provider, ""),
            )
            async for _ in stream:
                pass

    asyncio.run(main())
    first, second = recorded.llm_spans
    parent = next(s for s in recorded.spans if s.name == "async router")
    assert first.parent_id == second.parent_id == parent.span_id
    assert first.llm.cost_usd == pytest.approx(cost("gpt-4o-mini", **OPENAI_BILL), rel=1e-9)
    assert second.llm.cost_usd == pytest.approx(
        cost("claude-haiku-4-5", **ANTHROPIC_BILL), rel=1e-9
    )


def test_the_sdk_calls_litellm_makes_are_not_recorded_twice(provider, recorded, instrumented):
    instrumented("litellm", "openai", "anthropic")
    litellm.completion(model="openai/gpt-4o", **_kwargs(provider, "/v1"))
    litellm.completion(model="anthropic/claude-haiku-4-5", **_kwargs(provider, ""))
    stream = litellm.completion(model="openai/gpt-4o", stream=True, **_kwargs(provider, "/v1"))
    for _ in stream:
        pass
    names = [s.name for s in recorded.llm_spans]
    assert names == ["chat openai/gpt-4o", "chat anthropic/claude-haiku-4-5", "chat openai/gpt-4o"]


def test_rate_limit_is_an_error_span(provider, recorded, instrumented):
    instrumented("litellm")
    with pytest.raises(litellm.RateLimitError):
        litellm.completion(
            model="openai/gpt-4o",
            num_retries=0,
            max_retries=0,
            **_kwargs(provider, "/v1", extra_headers={"x-scenario": "rate_limit"}),
        )
    s = recorded.one_call()
    assert (s.status, s.attributes[GENAI.ERROR_TYPE]) == ("error", "RateLimitError")
    assert s.llm.input_tokens is None


def test_undo(provider, recorded):
    original = litellm.completion
    handle = spanwise.instrument("litellm")
    assert litellm.completion is not original
    handle.undo()
    assert litellm.completion is original
    litellm.completion(model="openai/gpt-4o", **_kwargs(provider, "/v1"))
    assert recorded.llm_spans == []
