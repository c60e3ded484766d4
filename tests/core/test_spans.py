"""The span engine as a user meets it: nesting, decorators on every kind of callable,
exceptions, context across threads, tasks and generators."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import spanwise
from spanwise.testing import FakeClock, InMemoryExporter


def parent_name(rec, span):
    by_id = {s.span_id: s for s in rec.spans}
    parent = by_id.get(span.parent_id)
    return parent.name if parent else None


def test_nested_spans_share_a_trace_and_link_parents(spanwise_recorder):
    with spanwise.span("outer", user="ann") as outer:
        with spanwise.span("inner") as inner:
            inner.set_attribute("rows", 3)
            inner.add_event("cache miss", key="k1")
    spans = spanwise_recorder.spans
    assert [s.name for s in spans] == ["inner", "outer"]
    assert inner.trace_id == outer.trace_id
    assert inner.parent_id == outer.span_id
    assert outer.parent_id == 0
    assert outer.attributes == {"user": "ann"}
    assert inner.attributes == {"rows": 3}
    assert inner.events[0][0] == "cache miss" and inner.events[0][2] == {"key": "k1"}
    assert outer.start_ns <= inner.start_ns <= inner.end_ns <= outer.end_ns


def test_exception_is_recorded_and_reraised_unchanged(spanwise_recorder):
    err = KeyError("missing-key")
    with pytest.raises(KeyError) as caught:
        with spanwise.span("lookup"):
            raise err
    assert caught.value is err
    s = spanwise_recorder.by_name("lookup")
    assert s.status == "error"
    assert s.error_type == "KeyError"
    assert s.error_message == "'missing-key'"


def test_exception_with_unprintable_message_still_recorded(spanwise_recorder):
    class Weird(Exception):
        def __str__(self):
            raise RuntimeError("no")

    with pytest.raises(Weird):
        with spanwise.span("weird"):
            raise Weird()
    s = spanwise_recorder.by_name("weird")
    assert s.error_type.endswith("Weird") and "unprintable" in s.error_message


def test_bare_and_named_decorators_time_real_work(spanwise_recorder):
    @spanwise.span
    def bare(x):
        time.sleep(0.02)
        return x * 2

    @spanwise.span("named", stage="load")
    def named():
        return "ok"

    assert bare(21) == 42
    assert named() == "ok"
    assert named() == "ok"
    b = spanwise_recorder.by_name(bare.__qualname__)
    assert b.duration_ns >= 20_000_000
    named_spans = [s for s in spanwise_recorder.spans if s.name == "named"]
    assert len(named_spans) == 2
    assert all(s.attributes == {"stage": "load"} for s in named_spans)
    assert named_spans[0].span_id != named_spans[1].span_id


def test_coroutine_duration_covers_the_awaits(spanwise_recorder):
    @spanwise.span("fetch")
    async def fetch():
        await asyncio.sleep(0.03)
        return 7

    assert asyncio.run(fetch()) == 7
    assert spanwise_recorder.by_name("fetch").duration_ns >= 30_000_000


def test_generator_span_covers_consumption_and_does_not_leak_context(spanwise_recorder):
    @spanwise.span("produce")
    def produce():
        for i in range(3):
            time.sleep(0.01)
            yield i

    with spanwise.span("consumer"):
        items = []
        for item in produce():
            # Between yields the generator's span must not be current here.
            with spanwise.span(f"handle {item}"):
                items.append(item)
    assert items == [0, 1, 2]
    gen = spanwise_recorder.by_name("produce")
    assert gen.duration_ns >= 30_000_000
    assert parent_name(spanwise_recorder, gen) == "consumer"
    for i in range(3):
        assert (
            parent_name(spanwise_recorder, spanwise_recorder.by_name(f"handle {i}")) == "consumer"
        )


def test_generator_return_value_and_thrown_exception(spanwise_recorder):
    @spanwise.span("gen")
    def gen():
        try:
            yield 1
        except ValueError:
            yield "recovered"
        return "done"

    g = gen()
    assert next(g) == 1
    assert g.throw(ValueError("x")) == "recovered"
    with pytest.raises(StopIteration) as stop:
        next(g)
    assert stop.value.value == "done"
    assert spanwise_recorder.by_name("gen").status == "ok"


def test_async_generator_span(spanwise_recorder):
    @spanwise.span("stream")
    async def stream():
        for i in range(2):
            await asyncio.sleep(0.01)
            with spanwise.span(f"chunk {i}"):
                pass
            yield i

    async def main():
        return [i async for i in stream()]

    assert asyncio.run(main()) == [0, 1]
    s = spanwise_recorder.by_name("stream")
    assert s.duration_ns >= 20_000_000
    assert parent_name(spanwise_recorder, spanwise_recorder.by_name("chunk 1")) == "stream"


def test_asyncio_gather_children_nest_under_the_caller(spanwise_recorder):
    async def child(i):
        with spanwise.span(f"child {i}"):
            await asyncio.sleep(0.01 * (3 - i))

    async def main():
        with spanwise.span("parent"):
            await asyncio.gather(*(child(i) for i in range(3)))

    asyncio.run(main())
    for i in range(3):
        assert parent_name(spanwise_recorder, spanwise_recorder.by_name(f"child {i}")) == "parent"


def test_threads_inherit_context_only_through_with_context(spanwise_recorder):
    def work(name):
        with spanwise.span(name):
            pass

    with spanwise.span("request"):
        with ThreadPoolExecutor(2) as pool:
            pool.submit(spanwise.with_context(work), "carried").result()
            pool.submit(work, "not carried").result()
        t = threading.Thread(target=spanwise.with_context(work), args=("thread",))
        t.start()
        t.join()
    assert parent_name(spanwise_recorder, spanwise_recorder.by_name("carried")) == "request"
    assert parent_name(spanwise_recorder, spanwise_recorder.by_name("thread")) == "request"
    orphan = spanwise_recorder.by_name("not carried")
    assert orphan.parent_id == 0
    assert orphan.trace_id != spanwise_recorder.by_name("request").trace_id


def test_fake_clock_and_deterministic_ids_are_injected(tmp_path):
    clock = FakeClock(start_ns=1_000)
    mem = InMemoryExporter()
    from spanwise.testing import DeterministicIds

    spanwise.configure("trace", home=tmp_path, exporters=[mem], clock=clock, ids=DeterministicIds())
    with spanwise.span("a"):
        clock.advance(ms=5)
    spanwise.flush()
    (s,) = mem.spans
    assert (s.trace_id, s.span_id, s.start_ns, s.end_ns) == (1, 1, 1_000, 1_000 + 5_000_000)


def test_traceparent_from_environment_makes_spans_join_the_remote_trace(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACEPARENT", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    mem = InMemoryExporter()
    spanwise.configure("trace", home=tmp_path, exporters=[mem])
    with spanwise.span("child process work"):
        header = spanwise.traceparent()
    spanwise.flush()
    (s,) = mem.spans
    assert f"{s.trace_id:032x}" == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert f"{s.parent_id:016x}" == "00f067aa0ba902b7"
    assert header == f"00-4bf92f3577b34da6a3ce929d0e0e4736-{s.span_id:016x}-01"


def test_invalid_traceparent_warns_and_starts_a_new_trace(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACEPARENT", "garbage")
    with pytest.warns(UserWarning, match="invalid TRACEPARENT"):
        spanwise.configure("trace", home=tmp_path, exporters=[InMemoryExporter()])
    assert spanwise.traceparent() is None
