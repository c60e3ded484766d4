"""The ``llm`` library's OpenAI models call the openai SDK underneath: with both
integrations on, one call is one LLM span, not two."""

from __future__ import annotations

from typing import Any

import pytest

import spanwise


@pytest.mark.parametrize("stream", [False, True])
def test_llm_library_call_over_openai_is_recorded_once(
    provider: Any, recorded: Any, instrumented: Any, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    llm = pytest.importorskip("llm")
    monkeypatch.setenv("OPENAI_BASE_URL", provider.url + "/v1")
    instrumented("openai", "llm")
    model = llm.get_model("gpt-4o-mini")
    with spanwise.span("ask"):
        text = model.prompt("Say hello", key="sk-test", stream=stream).text()
    assert text
    span = recorded.one_call()
    assert span.llm.request_model == "gpt-4o-mini"
    assert span.attributes.get("gen_ai.provider.name") == "openai"
