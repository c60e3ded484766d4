"""The C line encoder of trace files (``_tracejson.encode``) writes exactly the bytes
json's encoder does, for every value a trace file holds, and refuses the others so that
json writes them."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from spanwise._speedups import DISABLED
from spanwise.workflow import _trace_file

FAST = _trace_file._TRACEJSON
pytestmark = pytest.mark.skipif(DISABLED, reason="this run tests the pure-Python path")


def test_the_c_encoder_is_built_and_used() -> None:
    assert FAST is not None, (
        "spanwise.workflow._tracejson did not build: is a C compiler installed?"
    )


TEXTS = [
    "",
    "plain",
    'quote " and backslash \\',
    "lines\nand\ttabs\r\x08\x0c",
    "controls \x00\x01\x1f and \x7f",
    "é, 名前, emoji 🚀, \u2028 separators \u2029",
    "x" * 3000,
]
POOL = 'abcdefgh é名🚀"\\\n\x00\x1f\x20\x7f' + "x" * 20
FLOATS = [0.0, -0.0, 1.5, 1e16, 1e-7, 123456789.123, 2.5e-308, 1.7976931348623157e308, 0.1]
INTS = [0, -1, 7, 2**63 - 1, -(2**63), 2**63, -(2**64) - 5, 10**40]


def _value(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["str", "int", "float", "none", "bool"] + (
        ["dict", "list", "tuple"] if depth < 5 else []
    )
    kind = rng.choice(kinds)
    if kind == "str":
        if rng.random() < 0.5:  # escapes anywhere in and around 8-byte blocks
            return "".join(rng.choice(POOL) for _ in range(rng.randint(0, 40)))
        return rng.choice(TEXTS)
    if kind == "int":
        return rng.choice(INTS)
    if kind == "float":
        return rng.choice(FLOATS)
    if kind == "none":
        return None
    if kind == "bool":
        return rng.choice([True, False])
    items = [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if kind == "dict":
        return {rng.choice(TEXTS) + str(i): v for i, v in enumerate(items)}
    return items if kind == "list" else tuple(items)


def reference(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")


@pytest.mark.parametrize("seed", range(20))
def test_c_lines_are_the_bytes_json_writes(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(50):
        value = _value(rng)
        assert FAST.encode(value) == reference(value)


def test_values_a_trace_file_never_holds_are_left_to_json() -> None:
    class Text(str):
        pass

    class Number(int):
        pass

    for value in [{1: "int key"}, Text("sub"), Number(3), b"bytes", {"a": object()}, [set()]]:
        with pytest.raises(TypeError):
            FAST.encode(value)
    for value in [float("nan"), [float("inf")]]:
        with pytest.raises(ValueError):
            FAST.encode(value)
    with pytest.raises(UnicodeEncodeError):
        FAST.encode("lone \ud800 surrogate")
    # The layout falls back to json for such a line, with the same text json gives.
    doc = {"nodes": [{"id": "a"}, {"id": Text("b"), "n": Number(2)}], "strings": {}}
    assert _trace_file.layout(doc).decode("utf-8").splitlines()[3] == '{"id": "b", "n": 2}'
