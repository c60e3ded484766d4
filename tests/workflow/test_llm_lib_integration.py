"""``spanwise.integrations.llm_lib``: the ``llm`` library's lazy responses, recorded once,
timed around their consumption, with usage read after it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

import spanwise
from spanwise.testing import InMemoryExporter

from .conftest import PRICED_CALL_COST, PRICED_USAGE


@pytest.fixture
def recorded(tmp_path: Any) -> Iterator[InMemoryExporter]:
    from spanwise.integrations.llm_lib import instrument

    exporter = InMemoryExporter()
    spanwise.configure("trace", home=tmp_path / "home", exporters=[exporter])
    undo = instrument()
    try:
        yield exporter
    finally:
        undo()


def llm_spans(exporter: InMemoryExporter) -> list[Any]:
    spanwise.flush()
    return [s for s in exporter.spans if s.kind == "llm"]


def test_a_lazy_response_is_recorded_once_when_consumed(recorded: InMemoryExporter) -> None:
    import llm

    response = llm.get_model("echo").prompt("one two three")
    assert llm_spans(recorded) == []  # prompt() alone runs nothing
    text = response.text()
    usage = response.usage()
    assert response.text() == text and list(response) == [text]  # replays record nothing
    spans = llm_spans(recorded)
    assert len(spans) == 1
    call = spans[0].llm
    assert (call.provider, call.request_model) == ("echo", "echo")
    assert (call.input_tokens, call.output_tokens) == (usage.input, usage.output) == (3, 14)
    assert spans[0].name == "chat echo"
    assert spans[0].attributes["gen_ai.provider.name"] == "echo"
    assert spans[0].end_ns > spans[0].start_ns
    assert call.prompt is None and call.response is None  # content capture is off


def test_usage_first_also_consumes_once(recorded: InMemoryExporter) -> None:
    import llm

    response = llm.get_model("echo").prompt("a b")
    assert response.usage().input == 2
    response.text()
    assert len(llm_spans(recorded)) == 1


def test_streaming_and_stream_events(recorded: InMemoryExporter) -> None:
    import llm

    model = llm.get_model("echo")
    chunks = list(model.prompt("streamed words", stream=True))
    assert chunks
    events = list(model.prompt("event words").stream_events())
    assert events
    spans = llm_spans(recorded)
    assert len(spans) == 2
    assert spans[0].llm.streamed is True
    assert spans[0].llm.time_to_first_token_ms is not None


def test_async_responses(recorded: InMemoryExporter) -> None:
    import llm

    model = llm.get_async_model("echo")

    async def go() -> None:
        assert "async words" in await model.prompt("async words").text()
        async for _ in model.prompt("more async").astream_events():
            pass

    asyncio.run(go())
    spans = llm_spans(recorded)
    assert [s.llm.input_tokens for s in spans] == [2, 2]


def test_content_only_when_capture_is_on(tmp_path: Any) -> None:
    import llm
    from spanwise.integrations.llm_lib import instrument

    exporter = InMemoryExporter()
    spanwise.configure("trace", home=tmp_path, exporters=[exporter], capture_content=True)
    undo = instrument()
    try:
        llm.get_model("echo").prompt(
            "secret sk-proj-abcdefghijklmnopqrstuvwx", system="be brief"
        ).text()
    finally:
        undo()
    call = llm_spans(exporter)[0].llm
    assert call.prompt.startswith("secret ")
    assert call.system == "be brief"
    assert '"prompt": "secret' in call.response


def test_plugin_model_priced_and_failing(recorded: InMemoryExporter, test_models: Any) -> None:
    import llm

    assert llm.get_model("gpt-4o-mini").prompt("hi").text() == "priced: hi"
    with pytest.raises(RuntimeError, match="service is down"):
        llm.get_model("broken").prompt("hi").text()
    spans = llm_spans(recorded)
    priced, broken = spans
    assert (priced.llm.input_tokens, priced.llm.output_tokens) == PRICED_USAGE
    assert priced.llm.cost_usd == pytest.approx(PRICED_CALL_COST)
    assert broken.status == "error"
    assert broken.error_type == "RuntimeError"
    assert broken.llm.cost_usd is None


def test_off_records_nothing_and_undo_restores(tmp_path: Any) -> None:
    import llm
    from spanwise.integrations.llm_lib import instrument

    original = llm.Response.__iter__
    undo_a = instrument()
    undo_b = instrument()  # twice is harmless
    assert llm.Response.__iter__ is not original
    assert llm.get_model("echo").prompt("off").text()  # spanwise is off: just works
    undo_a()
    undo_a()
    assert llm.Response.__iter__ is not original  # still one user
    undo_b()
    assert llm.Response.__iter__ is original


def test_usage_details_give_cache_and_reasoning_tokens(
    recorded: InMemoryExporter, test_models: Any
) -> None:
    import llm

    llm.get_model("gpt-4o").prompt("x").text()
    call = llm_spans(recorded)[0].llm
    assert (call.input_tokens, call.output_tokens) == (2000, 300)
    assert call.cache_read_tokens == 1500
    assert call.reasoning_tokens == 100
    assert call.cost_usd is not None and call.cost_usd > 0
