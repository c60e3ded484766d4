"""FileLock between real processes: nothing is lost, the events say who waited how long,
and a holder killed with SIGKILL is recovered (never broken while alive)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from debug_helpers import Traced

import spanwise

UPDATER = textwrap.dedent("""
    import json, os, sys, time
    import spanwise

    state, lock_path, rounds, who = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    lock = spanwise.FileLock(lock_path)
    print("ready", flush=True)
    while not os.path.exists(state + ".go"):  # both start together, so they contend
        time.sleep(0.001)
    for _ in range(rounds):
        with spanwise.span(f"update by {who}"):
            with lock:
                with open(state) as f:
                    data = json.load(f)
                time.sleep(0.002)  # a read-modify-write race without the lock
                data["count"] += 1
                data["writers"].append(who)
                tmp = f"{state}.{who}.tmp"
                with open(tmp, "w") as f:
                    json.dump(data, f)
                os.replace(tmp, state)
            time.sleep(0.003)  # let the other process in, however loaded the machine is
    spanwise.shutdown()
""")

HOLDER = textwrap.dedent("""
    import sys, time
    import spanwise

    lock = spanwise.FileLock(sys.argv[1])
    with spanwise.span("doomed holder"):
        lock.acquire()
        print("held", flush=True)
        time.sleep(120)
""")


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(SPANWISE_MODE="trace", SPANWISE_HOME=str(home))
    return env


def test_two_processes_update_one_json_file_without_losing_anything(
    traced: Traced, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"count": 0, "writers": []}))
    lock_path = tmp_path / "state.json.lock"
    rounds = 25
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", UPDATER, str(state), str(lock_path), str(rounds), who],
            env=_env(traced.home),
            stdout=subprocess.PIPE,
            text=True,
        )
        for who in ("alpha", "beta")
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    (tmp_path / "state.json.go").touch()
    for p in procs:
        assert p.wait(120) == 0
        assert p.stdout is not None
        p.stdout.close()
    data = json.loads(state.read_text())
    assert data["count"] == 2 * rounds
    assert sorted(set(data["writers"])) == ["alpha", "beta"]
    assert data["writers"].count("alpha") == data["writers"].count("beta") == rounds

    events = traced.lock_events(str(lock_path))
    pids = {p.pid for p in procs}
    acquired = [e for e in events if e["event"] == "acquired"]
    assert len(acquired) == 2 * rounds and {e["pid"] for e in acquired} == pids
    assert {e["kind"] for e in events} == {"file"}
    assert len([e for e in events if e["event"] == "released"]) == 2 * rounds
    assert all(e["operation"].startswith("update by ") for e in acquired)
    # Who waited how long: contended requests name the other process as the holder.
    waited = [e for e in events if e["event"] == "requested" and e["details"]]
    assert waited, "the two processes never contended"
    for e in waited:
        holder_pid = e["details"]["holder"]["pid"]
        assert holder_pid in pids and holder_pid != e["pid"]
    waits = {e["acquisition"]: e["wait_ns"] for e in acquired}
    assert max(waits.values()) >= 1_000_000
    for e in waited:
        assert waits[e["acquisition"]] > 0


def test_a_holder_killed_with_sigkill_is_recovered(traced: Traced, tmp_path: Path) -> None:
    lock_path = tmp_path / "job.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock_path)],
        env=_env(traced.home),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        lock = spanwise.FileLock(lock_path)
        # Never broken while its holder lives.
        assert lock.acquire(timeout=0.3) is False
        assert lock.holder()["pid"] == holder.pid  # type: ignore[index]
        assert lock.locked()
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        assert lock.acquire(timeout=5)
        lock.release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()
    events = [e for e in traced.lock_events(str(lock_path)) if e["pid"] == os.getpid()]
    assert [e["event"] for e in events] == [
        "requested",
        "timeout",
        "requested",
        "acquired",
        "released",
    ]
    requested = [e for e in events if e["event"] == "requested"]
    assert requested[0]["details"]["holder"]["pid"] == holder.pid
    assert requested[0]["details"]["holder"]["operation"] == "doomed holder"
    [recovered] = [e for e in events if e["event"] == "acquired"]
    assert recovered["level"] == "warning"
    details = recovered["details"]
    assert details["recovered"] is True
    assert details["previous_holder"]["pid"] == holder.pid
    assert details["previous_holder_alive"] is False
    assert lock.holder() is None  # a clean release leaves no holder behind
    assert lock_path.exists()  # lock files are never deleted


def test_threads_exclude_each_other_and_a_thread_may_re_enter(
    traced: Traced, tmp_path: Path
) -> None:
    lock = spanwise.FileLock(tmp_path / "sub" / "dir" / "t.lock")
    counter = {"n": 0}

    def bump() -> None:
        for _ in range(20):
            with lock:
                with lock:  # re-entrant for the holding thread
                    value = counter["n"]
                    counter["n"] = value + 1

    threads = [threading.Thread(target=bump) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert counter["n"] == 60
    with pytest.raises(RuntimeError):
        lock.release()
    with pytest.raises(ValueError):
        lock.acquire(False, 1.0)
    acquired = [e for e in traced.lock_events() if e["event"] == "acquired"]
    assert len(acquired) == 60  # outermost acquisitions only


def test_off_mode_file_lock_still_locks(tmp_path: Path) -> None:
    lock = spanwise.FileLock(tmp_path / "plain.lock")
    with lock:
        other = spanwise.FileLock(tmp_path / "plain.lock")
        assert other.acquire(blocking=False) is False
    assert other.acquire(blocking=False)
    other.release()
    assert not (Path(os.environ["SPANWISE_HOME"]) / "spanwise.db").exists()


LATE_LOCK = textwrap.dedent(
    """
    import sys
    import spanwise

    spanwise.configure("trace", home=sys.argv[1])
    assert "spanwise.debug._locks" not in sys.modules  # loaded on first use, not before
    lock = spanwise.Lock("late")
    with lock:
        pass
    spanwise.shutdown()
    """
)


def test_a_lock_made_after_configure_still_reaches_the_store(tmp_path: Path) -> None:
    """The lock modules load on first use: a lock made after configure() records."""
    import sqlite3

    subprocess.run([sys.executable, "-c", LATE_LOCK, str(tmp_path)], check=True, timeout=60)
    with sqlite3.connect(tmp_path / "spanwise.db") as db:
        events = db.execute(
            "SELECT event FROM lock_events WHERE lock_name = 'late' ORDER BY time_ns"
        ).fetchall()
    assert [e for (e,) in events if e in ("acquired", "released")] == ["acquired", "released"]
