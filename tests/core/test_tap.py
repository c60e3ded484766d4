"""``_setup.tap``: an in-process consumer that sees each record as it ends, before the
writer (what ``spanwise run`` builds its metrics and trace file from)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

import spanwise
from spanwise._setup import nudge, tap


def stored_names(home: Path) -> list[str]:
    with sqlite3.connect(home / "spanwise.db") as db:
        return sorted(name for (name,) in db.execute("SELECT name FROM spans"))


def stored_so_far(home: Path) -> list[str]:
    """What the writer has committed yet: nothing while it is still creating the store
    (the file can exist before its tables do)."""
    if not (home / "spanwise.db").exists():
        return []
    try:
        return stored_names(home)
    except sqlite3.OperationalError:
        return []


def tapped(mode: str, home: Path, *, instead_of_summary: bool = False) -> list[str]:
    """Configure ``mode`` and tap it; the names of the records the tap sees."""
    spanwise.configure(mode, home=home)
    seen: list[str] = []
    assert tap(lambda record: seen.append(record.name), instead_of_summary=instead_of_summary)
    return seen


def test_a_tap_sees_each_span_as_it_ends_and_the_store_still_gets_every_one(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    seen = tapped("trace", home)
    with spanwise.span("outer"):
        with spanwise.span("inner"):
            pass
        assert seen == ["inner"]  # in this thread, at once: no flush needed

    def in_a_thread() -> None:
        with spanwise.span("in a thread"):
            pass

    worker = threading.Thread(target=in_a_thread)
    worker.start()
    worker.join()
    assert seen == ["inner", "outer", "in a thread"]
    spanwise.flush()
    assert stored_names(home) == ["in a thread", "inner", "outer"]


@pytest.mark.parametrize(
    ("instead_of_summary", "summary_spans", "summary_calls"), [(False, 2, 1), (True, 0, 0)]
)
def test_a_tap_in_metrics_mode_sees_every_record_and_writes_nothing(
    tmp_path: Path, instead_of_summary: bool, summary_spans: int, summary_calls: int
) -> None:
    """Beside the summary, or in its place (``spanwise run --output-format json``: its
    collector keeps the totals)."""
    home = tmp_path / "home"
    seen = tapped("metrics", home, instead_of_summary=instead_of_summary)
    with spanwise.span("step"):
        spanwise.record_llm_call(
            provider="openai", model="gpt-4o", input_tokens=10, output_tokens=5
        )
    assert seen == ["chat gpt-4o", "step"]
    summary = spanwise.summary()
    assert summary["span_count"] == summary_spans
    assert summary["llm_calls"] == summary_calls
    if summary_calls:
        assert summary["cost_usd"] == 7.5e-05  # gpt-4o: 10 in, 5 out
    assert not (home / "spanwise.db").exists()


def test_the_next_configure_removes_the_tap_and_off_mode_has_nothing_to_tap(
    tmp_path: Path,
) -> None:
    spanwise.configure("trace", home=tmp_path / "home")
    seen: list[str] = []
    tap(lambda record: seen.append(record.name))
    spanwise.configure("trace", home=tmp_path / "home")
    with spanwise.span("after"):
        pass
    assert seen == []
    spanwise.configure("off")
    assert tap(lambda record: seen.append(record.name)) is False
    with spanwise.span("off"):
        pass
    assert seen == []


def test_nudge_has_the_writer_store_what_is_queued_without_waiting_for_it(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    # An interval far longer than the test: only the nudge can make the writer drain.
    spanwise.configure("trace", home=home, flush_interval=3600)
    with spanwise.span("queued"):
        pass
    nudge()
    for _ in range(200):
        if stored_so_far(home) == ["queued"]:
            break
        threading.Event().wait(0.025)
    assert stored_names(home) == ["queued"]


def test_in_trace_mode_a_tap_instead_of_the_summary_still_leaves_the_store_whole(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    seen = tapped("trace", home, instead_of_summary=True)
    with spanwise.span("outer"):
        with spanwise.span("inner"):
            pass
    assert seen == ["inner", "outer"]
    spanwise.flush()
    assert stored_names(home) == ["inner", "outer"]
    assert spanwise.summary()["span_count"] == 0  # the tap keeps the totals
