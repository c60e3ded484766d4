"""The C hot path is built and used (unless switched off), and behaves as the Python one:
the rest of tests/core runs against both (.ci/run repeats it with SPANWISE_NO_SPEEDUPS=1)."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys

import pytest

import spanwise
from spanwise import testing
from spanwise._speedups import CSPAN

SWITCHED_OFF = os.environ.get("SPANWISE_NO_SPEEDUPS", "") not in ("", "0")


@pytest.mark.skipif(SWITCHED_OFF, reason="this run tests the pure-Python hot path")
def test_the_c_hot_path_is_built_and_used() -> None:
    from spanwise._span import Span

    assert CSPAN is not None, "spanwise._cspan did not build: is a C compiler installed?"
    assert Span.__mro__[1] is CSPAN.SpanCore
    # Queued spans are not walked by every garbage collection.
    assert not gc.is_tracked(Span("queued", {}))


def test_the_switch_selects_the_python_code() -> None:
    code = "from spanwise._span import Span; print(Span.__mro__[1].__name__)"
    env = dict(os.environ, SPANWISE_NO_SPEEDUPS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "PySpanCore"


def test_span_fields_and_nesting_through_the_hot_path(spanwise_recorder: testing.Recorder) -> None:
    with spanwise.span("outer", user="ann") as outer:
        with spanwise.span("inner", kind="client") as inner:
            assert spanwise.current_span() is inner
        assert spanwise.current_span() is outer
        with pytest.raises(KeyError), spanwise.span("failing"):
            raise KeyError("row 7")
    assert spanwise.current_span() is None
    spans = {s.name: s for s in spanwise_recorder.spans}
    assert spans["inner"].parent_id == spans["outer"].span_id
    assert spans["inner"].trace_id == spans["outer"].trace_id
    assert spans["inner"].kind == "client"
    assert spans["outer"].attributes == {"user": "ann"}
    assert spans["failing"].status == "error"
    assert spans["failing"].error_type == "KeyError"
    assert spans["outer"].end_ns >= spans["inner"].end_ns > spans["inner"].start_ns > 0
    assert json.dumps(spans["outer"].attributes) == '{"user": "ann"}'


@pytest.mark.skipif(SWITCHED_OFF, reason="this run tests the pure-Python hot path")
def test_an_ended_llm_span_waits_untracked_with_its_data_intact(
    spanwise_recorder: testing.Recorder,
) -> None:
    shared: list[object] = []
    shared.append(shared)  # a user value that is part of a cycle stays tracked
    with spanwise.span("agent"):
        spanwise.record_llm_call(
            provider="openai",
            model="gpt-4o",
            input_tokens=1000,
            output_tokens=100,
            finish_reasons=["stop"],
            attributes={"tags": ["a", "b"], "loop": shared},
        )
    call_span = next(s for s in spanwise_recorder.spans if s.llm is not None)
    assert not gc.is_tracked(call_span.llm)
    assert not gc.is_tracked(call_span.llm.finish_reasons)
    assert gc.is_tracked(shared)
    assert call_span.llm.finish_reasons == ["stop"]
    assert call_span.attributes["tags"] == ["a", "b"]
    assert call_span.llm.cost_usd == pytest.approx(0.0035)
