"""State diffs: bounded snapshots before and after, and a JSON Patch that names exactly
the changed paths (checked by applying it with the ``jsonpatch`` package)."""

from __future__ import annotations

import json
from typing import Any

import jsonpatch
import pytest
from debug_helpers import Traced
from hypothesis import given
from hypothesis import strategies as st

import spanwise
from spanwise.debug._jsonpatch import make_patch


def test_the_patch_names_exactly_the_changed_paths(traced: Traced) -> None:
    state: dict[str, Any] = {
        "version": 3,
        "tasks": [{"id": "t1", "status": "todo"}, {"id": "t2", "status": "todo"}],
        "owner": "ann",
        "notes/odd~key": 1,
        "obsolete": True,
    }
    with spanwise.span("apply_plan") as span:
        with spanwise.track_state("session", lambda: state) as tracker:
            state["version"] = 4
            state["tasks"][1]["status"] = "done"
            state["tasks"].append({"id": "t3", "status": "todo"})
            state["notes/odd~key"] = 2
            del state["obsolete"]
            state["reviewer"] = "bo"
    patch = tracker.patch
    assert patch is not None
    assert sorted(op["path"] for op in patch) == sorted(
        [
            "/version",
            "/tasks/1/status",
            "/tasks/2",
            "/notes~1odd~0key",
            "/obsolete",
            "/reviewer",
        ]
    )
    assert {op["path"]: op["op"] for op in patch}["/obsolete"] == "remove"

    [row] = traced.rows("SELECT * FROM state_diffs")
    assert (row["label"], row["status"], row["change_count"]) == ("session", "ok", 6)
    assert row["trace_id"] == f"{span.trace_id:032x}"
    stored_patch = json.loads(row["patch"])
    before = json.loads(
        traced.rows("SELECT content FROM blobs WHERE hash = ?", (row["before_hash"],))[0]["content"]
    )
    after = json.loads(
        traced.rows("SELECT content FROM blobs WHERE hash = ?", (row["after_hash"],))[0]["content"]
    )
    assert before["version"] == 3 and after == state
    assert jsonpatch.apply_patch(before, stored_patch) == after


def test_no_change_is_an_empty_patch_and_shrinking_lists_apply(traced: Traced) -> None:
    state: dict[str, Any] = {"queue": [1, 2, 3, 4]}
    with spanwise.track_state("idle", lambda: state) as idle:
        pass
    assert idle.patch == []
    with spanwise.track_state("drain", lambda: state) as drain:
        state["queue"] = [1]
    assert drain.patch == [
        {"op": "remove", "path": "/queue/3"},
        {"op": "remove", "path": "/queue/2"},
        {"op": "remove", "path": "/queue/1"},
    ]


def test_values_that_are_not_json_become_their_repr_and_secrets_are_redacted(
    traced: Traced,
) -> None:
    class Job:
        def __repr__(self) -> str:
            return "Job(42)"

    state: dict[str, Any] = {"job": Job(), "when": {1, 2}, "api_token": "tok-1", 7: "seven"}
    with spanwise.track_state("jobs", lambda: state) as tracker:
        state["api_token"] = "tok-2"
        state["job"] = None
    [row] = traced.rows("SELECT before_hash FROM state_diffs")
    before = json.loads(
        traced.rows("SELECT content FROM blobs WHERE hash = ?", (row["before_hash"],))[0]["content"]
    )
    assert before == {"job": "Job(42)", "when": [1, 2], "api_token": "[REDACTED]", "7": "seven"}
    assert tracker.patch == [{"op": "replace", "path": "/job", "value": None}]


def test_a_failing_block_is_still_recorded_and_a_failing_getter_is_noted(
    traced: Traced,
) -> None:
    state = {"n": 1}
    with pytest.raises(RuntimeError):
        with spanwise.track_state("risky", lambda: state):
            state["n"] = 2
            raise RuntimeError("half done")

    def broken() -> Any:
        raise OSError("state file gone")

    with spanwise.track_state("broken", broken) as tracker:
        pass
    assert tracker.patch == []
    rows = traced.rows(
        "SELECT label, status, error_type, patch, before_hash FROM state_diffs ORDER BY id"
    )
    assert (rows[0]["status"], rows[0]["error_type"]) == ("error", "RuntimeError")
    assert json.loads(rows[0]["patch"]) == [{"op": "replace", "path": "/n", "value": 2}]
    before = traced.rows("SELECT content FROM blobs WHERE hash = ?", (rows[1]["before_hash"],))
    assert "get_state raised OSError" in before[0]["content"]


def test_async_with_and_off_mode() -> None:
    import asyncio

    state = {"x": 1}

    async def main() -> Any:
        async with spanwise.track_state("aio", lambda: state) as tracker:
            state["x"] = 2
        return tracker.patch

    assert asyncio.run(main()) is None  # off: nothing is snapshotted or recorded
    with pytest.raises(ValueError, match="get_state must be a callable"):
        spanwise.track_state("bad", state)  # type: ignore[arg-type]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children, max_size=5)
    ),
    max_leaves=30,
)


@given(json_values, json_values)
def test_applying_the_patch_always_gives_the_after_document(before: Any, after: Any) -> None:
    patch = make_patch(before, after)
    assert jsonpatch.apply_patch(before, patch) == after
    if before == after and json.dumps(before) == json.dumps(after):
        assert patch == []
