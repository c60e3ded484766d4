"""Deadlocks between spanwise locks are reported (within a second, with each party's
stack) without killing the program; lock-order inversions are reported even when the
two orders never overlap in time."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest
from debug_helpers import Traced

import spanwise

SECOND = 1_000_000_000


def _problems(traced: Traced, event: str) -> list[dict[str, Any]]:
    return [e for e in traced.lock_events() if e["event"] == event]


def test_two_threads_taking_a_b_and_b_a_are_reported_with_both_stacks(
    traced: Traced, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = spanwise.Lock("A"), spanwise.Lock("B")
    both_hold_one = threading.Barrier(2)
    got: dict[str, bool] = {}

    def transfer_a_to_b() -> None:
        with spanwise.span("transfer a→b"), a:
            both_hold_one.wait()
            got["first"] = b.acquire(timeout=2.0)  # gives up: the test cannot hang
            if got["first"]:
                b.release()

    def transfer_b_to_a() -> None:
        with spanwise.span("transfer b→a"), b:
            both_hold_one.wait()
            got["second"] = a.acquire(timeout=2.0)
            if got["second"]:
                a.release()

    threads = [
        threading.Thread(target=transfer_a_to_b, name="t-ab"),
        threading.Thread(target=transfer_b_to_a, name="t-ba"),
    ]
    with caplog.at_level(logging.ERROR, logger="spanwise.locks"):
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    assert not any(t.is_alive() for t in threads)
    # The program went on: the waiters' own timeouts broke the cycle.
    assert len(got) == 2 and False in got.values()

    [deadlock] = _problems(traced, "deadlock")
    assert deadlock["level"] == "error"
    parties = {p["thread"]: p for p in deadlock["details"]["parties"]}
    assert set(parties) == {"t-ab", "t-ba"}
    assert parties["t-ab"]["holding"] == ["A"] and parties["t-ab"]["waiting_for"] == "B"
    assert parties["t-ba"]["holding"] == ["B"] and parties["t-ba"]["waiting_for"] == "A"
    functions = {name: [f["function"] for f in p["stack"]] for name, p in parties.items()}
    assert any(f.endswith("transfer_a_to_b") for f in functions["t-ab"])
    assert any(f.endswith("transfer_b_to_a") for f in functions["t-ba"])
    assert parties["t-ab"]["operation"] == "transfer a→b"
    # Reported within a second of the cycle closing (the last waiter's request).
    requests = [
        e["time_ns"]
        for e in traced.lock_events()
        if e["event"] == "requested" and e["wait_ns"] is None and e["details"]
    ]
    assert deadlock["time_ns"] - max(requests) < SECOND
    assert "deadlock detected" in caplog.text and "'A'" in caplog.text


def test_taking_a_lock_twice_in_one_thread_is_a_deadlock_of_one(traced: Traced) -> None:
    lock = spanwise.Lock("not-reentrant")
    with lock:
        assert lock.acquire(timeout=0.5) is False
    [deadlock] = _problems(traced, "deadlock")
    [party] = deadlock["details"]["parties"]
    assert party["holding"] == ["not-reentrant"]
    assert party["waiting_for"] == "not-reentrant"


def test_lock_order_inversion_without_overlap_is_a_warning(
    traced: Traced, caplog: pytest.LogCaptureFixture
) -> None:
    accounts, ledger = spanwise.Lock("accounts"), spanwise.Lock("ledger")

    def post_entry() -> None:
        with accounts, ledger:
            pass

    def rebuild_ledger() -> None:
        with ledger, accounts:
            pass

    with caplog.at_level(logging.WARNING, logger="spanwise.locks"):
        first = threading.Thread(target=post_entry)
        first.start()
        first.join(5)
        second = threading.Thread(target=rebuild_ledger)  # strictly later: no overlap
        second.start()
        second.join(5)
        post_entry()  # the same orders again are not reported twice
        rebuild_ledger()
    [warning] = _problems(traced, "order_inversion")
    assert warning["level"] == "warning"
    details = warning["details"]
    assert details["this_order"] == ["ledger", "accounts"]
    assert details["other_order"] == ["accounts", "ledger"]
    assert details["this_site"][-1]["function"].endswith("rebuild_ledger")
    assert details["other_sites"][0]["stack"][-1]["function"].endswith("post_entry")
    assert not _problems(traced, "deadlock")
    assert "lock order inversion" in caplog.text


def test_longer_inversion_chains_are_found(traced: Traced) -> None:
    x, y, z = spanwise.Lock("x"), spanwise.Lock("y"), spanwise.Lock("z")
    with x, y:
        pass
    with y, z:
        pass
    with z, x:  # closes x → y → z → x
        pass
    [warning] = _problems(traced, "order_inversion")
    assert warning["details"]["other_order"] == ["x", "y", "z"]


def test_asyncio_tasks_in_a_cycle_are_reported_with_task_names(traced: Traced) -> None:
    async def main() -> dict[str, bool]:
        a, b = spanwise.AsyncLock("aio-A"), spanwise.AsyncLock("aio-B")
        ready = asyncio.Event()
        holders = 0
        got: dict[str, bool] = {}

        async def take(first: Any, second: Any, key: str) -> None:
            nonlocal holders
            async with first:
                holders += 1
                if holders == 2:
                    ready.set()
                await ready.wait()
                got[key] = await second.acquire(timeout=1.5)
                if got[key]:
                    second.release()

        await asyncio.gather(
            asyncio.create_task(take(a, b, "ab"), name="task-ab"),
            asyncio.create_task(take(b, a, "ba"), name="task-ba"),
        )
        return got

    assert False in asyncio.run(main()).values()  # a timeout broke the cycle
    [deadlock] = _problems(traced, "deadlock")
    parties = {p["task"]: p for p in deadlock["details"]["parties"]}
    assert set(parties) == {"task-ab", "task-ba"}
    assert parties["task-ab"]["waiting_for"] == "aio-B"
    assert any(f["function"].endswith("take") for f in parties["task-ba"]["stack"])


def test_no_false_deadlock_for_plain_contention(traced: Traced) -> None:
    lock = spanwise.Lock("busy")
    release = threading.Event()

    def slow_holder() -> None:
        with lock:
            release.wait(5)

    t = threading.Thread(target=slow_holder)
    t.start()
    timer = threading.Timer(0.5, release.set)
    timer.start()
    assert lock.acquire(timeout=5)  # waits through two or three detection rounds
    lock.release()
    t.join(5)
    assert not _problems(traced, "deadlock")
