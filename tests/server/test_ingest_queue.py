"""The ingest queue under pressure, against a real server on loopback: a full queue is
refused with 503 + Retry-After (counted, never dropped silently), and requests whose
clients gave up while waiting do not stop the writer."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from server.helpers import free_port
from server.test_ingest import json_request
from spanwise.server import ServerConfig, create_app
from spanwise.server._ingest_writer import IngestWriter
from spanwise.server._otlp_decode import decode_json
from spanwise.store import open_database


class ThreadedServer:
    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(20)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "queue.db"


@pytest.fixture
def small_queue(store_path: Path) -> Iterator[ThreadedServer]:
    app = create_app(ServerConfig(store_url=f"sqlite://{store_path}", queue_bytes=2_000))
    server = ThreadedServer(app)
    try:
        yield server
    finally:
        server.stop()


def _payload(n: int) -> dict[str, Any]:
    return json_request(trace_hex=f"{n:032x}")  # two spans each


def test_a_full_queue_is_refused_with_503(small_queue: ThreadedServer, store_path: Path) -> None:
    blocker = sqlite3.connect(store_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # the server's writer now waits for the file
    results: dict[str, int] = {}

    def post(name: str, n: int) -> None:
        results[name] = httpx.post(
            small_queue.url + "/v1/traces", json=_payload(n), timeout=60
        ).status_code

    first = threading.Thread(target=post, args=("first", 1))
    first.start()
    time.sleep(0.5)  # taken by the writer, stuck on the lock
    second = threading.Thread(target=post, args=("second", 2))
    second.start()
    time.sleep(0.5)  # waits in the queue: ~1.2 of 2 KB
    refused = httpx.post(small_queue.url + "/v1/traces", json=_payload(3), timeout=10)
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert "capacity" in refused.json()["message"]
    blocker.execute("ROLLBACK")
    blocker.close()
    first.join(30)
    second.join(30)
    assert results == {"first": 200, "second": 200}
    health = httpx.get(small_queue.url + "/api/health").json()
    assert health["ingest"]["rejected"]["queue_full"] == 1
    assert health["counts"]["spans"] == 4


def test_clients_that_give_up_do_not_stop_the_writer(store_path: Path) -> None:
    db = open_database(f"sqlite://{store_path}")
    writer = IngestWriter(lambda: db, lambda span: None)
    blocker = sqlite3.connect(store_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        running = writer.submit_items(decode_json(_json(1)).items)
        time.sleep(0.3)
        waiting = writer.submit_items(decode_json(_json(2)).items)
        assert running is not None and waiting is not None
        assert waiting.cancel()  # what asyncio does when the client disconnects
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert len(running.result(30).items) == 2
    later = writer.submit_items(decode_json(_json(3)).items)
    assert later is not None and len(later.result(30).items) == 2
    assert writer.stats()["spans_written"] == 6  # the abandoned request was still stored
    writer.close()


def _json(n: int) -> bytes:
    import json

    return json.dumps(_payload(n)).encode()
