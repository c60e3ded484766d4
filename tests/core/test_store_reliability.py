"""The SQLite store when processes die mid-write and when many write at once."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

WRITER = textwrap.dedent(
    """
    import sys, spanwise
    spanwise.configure("trace", home=sys.argv[1], flush_interval=0.01)
    i = 0
    while True:
        for _ in range(50):
            with spanwise.span("work", i=i):
                i += 1
        spanwise.flush()
        # Acknowledge only what the writer has committed.
        sys.stdout.write(f"{i}\\n")
        sys.stdout.flush()
    """
)


def test_kill_minus_9_keeps_the_store_intact_and_every_flushed_span(tmp_path):
    home = tmp_path / "home"
    rng = random.Random(1234)
    acknowledged_total = 0
    for _kill in range(24):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(home)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()  # it is writing
        assert first.strip().isdigit()
        time.sleep(rng.uniform(0.0, 0.15))
        os.kill(proc.pid, signal.SIGKILL)
        rest = proc.stdout.read()
        proc.stdout.close()
        proc.wait()
        acked = [int(x) for x in (first + rest).split() if x.isdigit()]
        acknowledged_total += max(acked)
        conn = sqlite3.connect(home / "spanwise.db")
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = conn.execute("SELECT COUNT(*) FROM spans").fetchone()[0]
        conn.close()
        # Every acknowledged span is there; nothing that was never emitted appears
        # (each child emits at most 50 spans past its last acknowledgement).
        assert acknowledged_total <= stored <= acknowledged_total + 50 * (_kill + 1)


MANY = textwrap.dedent(
    """
    import sys, threading, spanwise
    spanwise.configure("trace", home=sys.argv[1], batch_size=64)
    def work(t):
        for i in range(1500):
            with spanwise.span("w", thread=t):
                pass
    threads = [threading.Thread(target=work, args=(t,)) for t in range(3)]
    for t in threads: t.start()
    for t in threads: t.join()
    ok = spanwise.shutdown(60)
    stats = spanwise.status()
    print(ok, sys.argv[2])
    """
)


def test_six_processes_three_threads_each_into_one_file(tmp_path):
    home = tmp_path / "home"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MANY, str(home), str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(6)
    ]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert out.startswith("True"), out
        assert "locked" not in err and err == "", err
    conn = sqlite3.connect(home / "spanwise.db")
    assert conn.execute("SELECT COUNT(*) FROM spans").fetchone()[0] == 6 * 3 * 1500
    assert conn.execute("SELECT SUM(span_count) FROM traces").fetchone()[0] == 6 * 3 * 1500
    assert conn.execute("SELECT SUM(write_error) FROM pipeline_stats").fetchone()[0] in (None, 0)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_migrations_are_recorded_once_when_processes_start_together(tmp_path):
    home = tmp_path / "home"
    code = textwrap.dedent(
        """
        import sys, spanwise
        spanwise.configure("trace", home=sys.argv[1])
        with spanwise.span("m"):
            pass
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(home)]) for _ in range(5)]
    assert all(p.wait(60) == 0 for p in procs)
    conn = sqlite3.connect(home / "spanwise.db")
    names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
    assert names == sorted(set(names)) and names[0] == "0001_core"
    assert conn.execute("SELECT COUNT(*) FROM spans").fetchone()[0] == 5


def test_none_binds_as_null_through_spanwise_adapter_and_a_programs_own_is_kept(
    tmp_path,
) -> None:
    """spanwise registers an adapter for None (sqlite3's own search for one is slow); None
    still binds as NULL everywhere in the process, and an adapter the program registered
    before is not replaced."""
    from spanwise.store import _sqlite

    key = (type(None), sqlite3.PrepareProtocol)
    assert sqlite3.adapters.get(key) is _sqlite._AS_NULL
    db = sqlite3.connect(tmp_path / "own.db")
    db.execute("CREATE TABLE t (a TEXT, b INTEGER)")
    db.execute("INSERT INTO t VALUES (?, ?)", (None, None))
    assert db.execute("SELECT a IS NULL, typeof(b) FROM t").fetchone() == (1, "null")
    db.close()

    def programs_own(value: None) -> str:
        return "none"

    saved = sqlite3.adapters.pop(key)
    try:
        sqlite3.register_adapter(type(None), programs_own)
        _sqlite.bind_none_directly()
        assert sqlite3.adapters[key] is programs_own
    finally:
        sqlite3.adapters[key] = saved


TOGETHER = textwrap.dedent(
    """
    import os, sys, time
    from spanwise.efficiency import EmbeddingCache, cache_key
    from spanwise.store._sqlite import SQLiteDatabase
    path, cache_path, go = sys.argv[1], sys.argv[2], float(sys.argv[3])
    while time.time() < go:  # spin: the processes open within a fraction of a ms
        pass
    if os.getpid() % 2:
        EmbeddingCache(cache_path).put(cache_key("a.md", str(os.getpid()), "m"), [1.0])
    db = SQLiteDatabase("sqlite://" + path)
    with db.transaction() as cur:
        cur.execute(
            "INSERT INTO pipeline_stats (pid, started_ns, host, updated_ns, exported, "
            "queue_full, shutdown, write_error) VALUES (?, 0, 'here', 0, 0, 0, 0, 0)",
            (os.getpid(),),
        )
    if not os.getpid() % 2:
        EmbeddingCache(cache_path).put(cache_key("a.md", str(os.getpid()), "m"), [1.0])
    """
)


def test_processes_that_open_a_new_store_at_the_same_moment_all_get_it(tmp_path):
    """The first open of a new file switches it to WAL, which SQLite refuses at once
    ("database is locked", without its busy wait) while another process is doing the
    same: without a retry, about one round in three lost a process's first batch. The
    embedding cache's file opens the same way."""
    for round_ in range(8):
        path, cache_path = tmp_path / f"store-{round_}.db", tmp_path / f"cache-{round_}.db"
        go = time.time() + 0.5  # after every interpreter has started
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", TOGETHER, str(path), str(cache_path), str(go)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(6)
        ]
        errors = [p.communicate(timeout=120)[1] for p in procs]
        assert [p.returncode for p in procs] == [0] * 6, f"round {round_}: {errors}"
        conn = sqlite3.connect(path)
        rows = conn.execute("SELECT COUNT(DISTINCT pid) FROM pipeline_stats").fetchone()[0]
        conn.close()
        assert rows == 6
        conn = sqlite3.connect(cache_path)
        assert conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] == 6
        conn.close()
