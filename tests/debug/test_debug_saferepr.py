"""The repr under error reports and state snapshots never raises, is bounded by every
cap, marks what it cut, and keeps secrets out."""

from __future__ import annotations

import collections.abc
import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from spanwise.debug._saferepr import (
    CYCLIC,
    LOCALS_LIMITS,
    Limits,
    Walker,
    safe_repr,
    safe_value,
)


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")


class BadGetattr:
    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"no {name} for you")


class BadGetattribute:
    def __getattribute__(self, name: str) -> Any:
        raise RuntimeError("everything raises")


class BadMapping(collections.abc.Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("getitem")

    def __iter__(self) -> Any:
        raise RuntimeError("iter")

    def __len__(self) -> int:
        raise RuntimeError("len")

    def __repr__(self) -> str:
        raise RuntimeError("repr")


class HostileDict(dict[str, Any]):
    def items(self) -> Any:
        raise RuntimeError("items overridden")

    def __iter__(self) -> Any:
        raise RuntimeError("iter overridden")


class Plain:
    def __init__(self) -> None:
        self.name = "plain"
        self.api_key = "sk-live-abcdefghijklmnopqrstuvwx"
        self.child = {"depth": 1}


def _json_size(value: Any) -> int:
    return len(json.dumps(value))


def test_a_repr_that_raises_is_named_not_raised() -> None:
    out = safe_value(BadRepr())
    assert out == "<tests.debug.test_debug_saferepr.BadRepr repr raised RuntimeError>" or (
        "repr raised RuntimeError" in out
    )


def test_hostile_attribute_access_never_breaks_the_walk() -> None:
    for obj in (BadGetattr(), BadGetattribute(), BadMapping()):
        out = safe_value(obj)
        json.dumps(out)  # always JSON-ready
        assert isinstance(out, (str, dict))


def test_dict_subclasses_are_read_without_running_their_overrides() -> None:
    d = HostileDict(a=1, b=[1, 2])
    assert safe_value(d) == {"a": 1, "b": [1, 2]}


def test_recursive_structures_are_marked_cyclic() -> None:
    a: list[Any] = [1]
    a.append(a)
    d: dict[str, Any] = {"self": None}
    d["self"] = d
    assert safe_value(a) == [1, CYCLIC]
    assert safe_value(d) == {"self": CYCLIC}


def test_a_100_mb_string_is_cut_to_the_cap_and_marked() -> None:
    huge = "x" * 100_000_000
    out = safe_value(huge)
    assert out.startswith("x" * LOCALS_LIMITS.string)
    assert out.endswith(f"…[{100_000_000 - LOCALS_LIMITS.string} more chars]")
    assert len(safe_repr(huge)) < 2 * 1024


def test_depth_and_breadth_caps_are_marked() -> None:
    nested: Any = "leaf"
    for _ in range(100_000):
        nested = [nested]
    out = safe_value(nested)
    depth = 0
    while isinstance(out, list):
        out = out[0]
        depth += 1
    assert depth == LOCALS_LIMITS.depth
    assert out == "<list with 1 items>"

    wide = safe_value(list(range(1_000_000)))
    assert wide[: LOCALS_LIMITS.breadth] == list(range(LOCALS_LIMITS.breadth))
    assert wide[-1] == f"…[{1_000_000 - LOCALS_LIMITS.breadth} more items]"
    wide_dict = safe_value({f"k{i}": i for i in range(500)})
    assert wide_dict["…"] == f"[{500 - LOCALS_LIMITS.breadth} more keys]"


def test_total_size_cap_holds_and_is_flagged() -> None:
    walker = Walker(Limits(total=10_000))
    data = walker.value([["y" * 1000 for _ in range(20)] for _ in range(20)])
    assert walker.budget.truncated
    assert _json_size(data) < 30_000
    assert "<omitted: size cap reached>" in json.dumps(data)


def test_awkward_scalars_become_valid_json() -> None:
    out = safe_value(
        {
            "nan": math.nan,
            "inf": math.inf,
            "big": 10**5000,
            "b": b"\x00\x01",
            "mv": memoryview(b"abc"),
            "gen": (i for i in range(3)),
        }
    )
    text = json.dumps(out, allow_nan=False)
    assert out["nan"] == "NaN" and out["inf"] == "Infinity"
    assert out["big"].startswith("<int with")
    assert out["b"] == "b'\\x00\\x01'"
    assert "generator" in out["gen"]
    assert text


def test_plain_objects_show_their_attributes_with_secrets_redacted() -> None:
    out = safe_value(Plain())
    assert out["__class__"].endswith("Plain")
    assert out["name"] == "plain"
    assert out["api_key"] == "[REDACTED]"
    assert out["child"] == {"depth": 1}


def test_secrets_in_reprs_and_text_are_scrubbed() -> None:
    class Config:
        def __repr__(self) -> str:
            return "Config(user='ann', password='hunter2', token=abc123)"

    text = safe_value(Config())
    assert "hunter2" not in text and "abc123" not in text
    assert "user='ann'" in text
    assert safe_value("Bearer abcdefghijklmnopqrstuvwxyz") == "[REDACTED]"
    long_secret = "a" * 1020 + "sk-abcdefghijklmnopqrstuvwxyz0123"
    assert "sk-abc" not in safe_value(long_secret)


@given(st.text())
def test_any_string_is_safe(text: str) -> None:
    out = safe_value(text)
    assert isinstance(out, str)
    json.dumps(out)


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=10), children, max_size=6)
    ),
    max_leaves=40,
)


@given(json_like)
def test_any_nested_value_becomes_json(value: Any) -> None:
    json.dumps(safe_value(value), allow_nan=False)
