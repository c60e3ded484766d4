"""The C row builder (``_cspan.add_plain_spans``) gives the same rows and trace totals as
``SpanRows.add_all`` in Python, for every shape of span it takes or hands back."""

from __future__ import annotations

import random

import pytest

from spanwise._speedups import CSPAN
from spanwise.store import _span_rows
from spanwise.store._span_rows import SpanRows

pytestmark = pytest.mark.skipif(CSPAN is None, reason="this run tests the pure-Python path")


def _spans(rng: random.Random) -> list[object]:
    from spanwise._span import Span

    spans = []
    traces = [0, 1, 2**127 + 5, rng.getrandbits(128), rng.getrandbits(128)]
    for i in range(400):
        attrs = rng.choice([{}, {"a": 1, "b": "x"}, {"tags": ["x", "y"]}, {"n": i}])
        s = Span(rng.choice(["root", "step", "tool"]), attrs, rng.choice(["internal", "llm"]))
        s.trace_id = rng.choice(traces)
        s.span_id = rng.choice([0, 1, rng.getrandbits(64), 2**64 + 3])
        s.parent_id = rng.choice([0, 0, rng.getrandbits(64)])
        s.start_ns = rng.randint(1, 10**6)
        s.end_ns = s.start_ns + rng.randint(0, 10**4)
        if i % 17 == 0:
            s.set_status("error", "boom")  # has extras: built in Python
        spans.append(s)
    return spans


@pytest.mark.parametrize("seed", range(5))
def test_c_and_python_rows_are_the_same(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    spans = _spans(random.Random(seed))
    fast = SpanRows("s", 7)
    fast.add_all(spans)
    monkeypatch.setattr(_span_rows, "_ADD_PLAIN", None)
    slow = SpanRows("s", 7)
    slow.add_all(spans)
    assert sorted(map(repr, fast.spans)) == sorted(map(repr, slow.spans))
    assert fast.traces == slow.traces
    assert len(fast.spans) == 400
