"""The OTLP/HTTP (protobuf) sink: spans leave for an OpenTelemetry backend beside the
local store.

The pipeline's writer thread only appends spans to a bounded buffer; a sender thread
batches them (``batch_size`` spans, or whatever arrived within ``delay_s``), encodes them
with GenAI v1.41 names and POSTs them to ``<endpoint>/v1/traces``. Responses 429, 502, 503
and 504 (and connection errors) are retried with the server's ``Retry-After`` when it
gives one, else exponential backoff, at most ``max_retries`` times. Nothing blocks the
program or the store writer.

Drops are counted by reason in ``stats()`` and logged once per reason:
``buffer_full`` (the buffer of ``max_buffer`` spans was full), ``rejected`` (the
backend refused the batch or reported rejected spans), ``retries_exhausted`` and
``shutdown`` (left unsent when the process ended). Headers come from
``SPANWISE_OTLP_HEADERS`` (``key=value,key2=value2``), else
``OTEL_EXPORTER_OTLP_HEADERS``.
"""

from __future__ import annotations

import collections
import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

from spanwise import _internal
from spanwise._export import EXPORTER_DROP_REASONS, ExportResult
from spanwise._settings import otlp_traces_url as traces_url

logger = logging.getLogger("spanwise")

RETRYABLE = frozenset({429, 502, 503, 504})
DROP_REASONS = EXPORTER_DROP_REASONS
_EXPORTERS: weakref.WeakSet[OtlpExporter] = weakref.WeakSet()


def parse_headers(raw: str | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in (raw or "").split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            headers[unquote(key.strip())] = unquote(value.strip())
    return headers


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        from email.utils import parsedate_to_datetime

        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


class OtlpExporter:
    """An exporter (see ``spanwise._export``) that sends spans over OTLP/HTTP."""

    name = "otlp"

    def __init__(
        self,
        endpoint: str,
        *,
        headers: dict[str, str] | None = None,
        timeout_s: float = 10.0,
        max_buffer: int = 8192,
        batch_size: int = 512,
        delay_s: float = 1.0,
        max_retries: int = 5,
        max_backoff_s: float = 30.0,
        resource_attributes: dict[str, Any] | None = None,
    ) -> None:
        self.url = traces_url(endpoint)
        env_headers = os.environ.get("SPANWISE_OTLP_HEADERS")
        if env_headers is None:
            env_headers = os.environ.get("OTEL_EXPORTER_OTLP_HEADERS")
        self.headers = {**parse_headers(env_headers), **(headers or {})}
        self.timeout_s = timeout_s
        self.max_buffer = max_buffer
        self.batch_size = batch_size
        self.delay_s = delay_s
        self.max_retries = max_retries
        self.max_backoff_s = max_backoff_s
        self.resource_attributes = resource_attributes
        self.drops = dict.fromkeys(DROP_REASONS, 0)
        self._drops_lock = threading.Lock()
        self.sent = 0
        self.requests = 0
        self._warned: set[str] = set()
        self._init_state()
        _EXPORTERS.add(self)

    def _init_state(self) -> None:
        self._buffer: collections.deque[Any] = collections.deque()
        self._cond = threading.Condition(threading.Lock())
        self._in_flight = 0
        self._stopping = False
        self._deadline: float | None = None
        self._thread: threading.Thread | None = None

    # -- exporter protocol (writer thread) ---------------------------------------------
    def export(self, records: Sequence[Any]) -> ExportResult:
        spans = [r for r in records if getattr(r, "record_type", None) == "span"]
        if not spans:
            return ExportResult.SUCCESS
        with self._cond:
            if self._stopping:
                self._count("shutdown", len(spans))
                return ExportResult.SUCCESS
            room = self.max_buffer - len(self._buffer)
            if len(spans) > room:
                self._count("buffer_full", len(spans) - max(room, 0))
                spans = spans[: max(room, 0)]
            self._buffer.extend(spans)
            if len(self._buffer) >= self.batch_size:
                self._cond.notify_all()
        self._ensure_thread()
        return ExportResult.SUCCESS

    def force_flush(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
            while self._buffer or self._in_flight:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining if remaining is not None else 0.5)
        return True

    def shutdown(self, timeout: float | None = None) -> None:
        with self._cond:
            self._stopping = True
            self._deadline = None if timeout is None else time.monotonic() + timeout
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        with self._cond:
            left = len(self._buffer)
            self._buffer.clear()
        if left:
            self._count("shutdown", left)

    def after_fork(self) -> None:
        self._init_state()  # the parent's buffer is the parent's to send

    def stats(self) -> dict[str, Any]:
        with self._cond:
            return {
                "endpoint": self.url,
                "buffered": len(self._buffer),
                "sent": self.sent,
                "requests": self.requests,
                "dropped": self._drop_counts(),
            }

    def _drop_counts(self) -> dict[str, int]:
        with self._drops_lock:
            return dict(self.drops)

    # -- sender thread ---------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="spanwise-otlp", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._buffer and not self._stopping:
                    self._cond.wait(self.delay_s)
                if not self._buffer:
                    if self._stopping:
                        return
                    continue
                if len(self._buffer) < self.batch_size and not self._stopping:
                    # Let a batch fill up a little, unless someone is flushing.
                    self._cond.wait(min(self.delay_s, 0.05))
                count = min(self.batch_size, len(self._buffer))
                batch = [self._buffer.popleft() for _ in range(count)]
                self._in_flight = len(batch)
            try:
                self._send(batch)
            except Exception as exc:  # noqa: BLE001 - the sender must survive anything
                _internal.report("otlp.send", exc)
                self._count("rejected", len(batch))
            with self._cond:
                self._in_flight = 0
                self._cond.notify_all()

    def _send(self, batch: list[Any]) -> None:
        from spanwise.otel._encode import encode_spans

        body = encode_spans(batch, self.resource_attributes)
        attempt = 0
        while True:
            status, retry_after, reply = self._post(body)
            if 200 <= status < 300:
                rejected = _rejected_spans(reply)
                with self._cond:
                    self.sent += len(batch) - rejected
                if rejected:
                    self._count("rejected", rejected)
                return
            if status not in RETRYABLE and status != 0:
                self._count("rejected", len(batch))
                return
            if attempt >= self.max_retries:
                self._count("retries_exhausted", len(batch))
                return
            delay = retry_after if retry_after is not None else self._backoff(attempt)
            delay = min(delay, self.max_backoff_s)
            if not self._sleep(delay):
                self._count("shutdown", len(batch))
                return
            attempt += 1

    def _backoff(self, attempt: int) -> float:
        base: float = min(self.max_backoff_s, 0.5 * (2**attempt))
        return base * (0.5 + random.random() / 2)

    def _sleep(self, delay: float) -> bool:
        """Wait before a retry; False when shutdown's deadline does not leave the time."""
        end = time.monotonic() + delay
        with self._cond:
            while True:
                if self._stopping and self._deadline is not None and end > self._deadline:
                    return False
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return True
                self._cond.wait(remaining)

    def _post(self, body: bytes) -> tuple[int, float | None, bytes]:
        """(status, Retry-After seconds, body); status 0 for a connection failure."""
        import urllib.error
        import urllib.request

        from spanwise import __version__

        headers = {
            "Content-Type": "application/x-protobuf",
            "User-Agent": f"spanwise/{__version__}",
            **self.headers,
        }
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        with self._cond:
            self.requests += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return int(response.status), None, response.read()
        except urllib.error.HTTPError as err:
            retry = retry_after_seconds(err.headers.get("Retry-After") if err.headers else None)
            try:
                err.read()
            except OSError:
                pass
            finally:
                err.close()
            return int(err.code), retry, b""
        except (OSError, ValueError):
            return 0, None, b""

    def _count(self, reason: str, count: int) -> None:
        if count <= 0:
            return
        with self._drops_lock:
            self.drops[reason] += count
            first = reason not in self._warned
            self._warned.add(reason)
        if first:
            logger.warning(
                "spanwise: OTLP export to %s dropped %d span(s): %s", self.url, count, reason
            )


def _rejected_spans(reply: bytes) -> int:
    """``partial_success.rejected_spans`` of an ExportTraceServiceResponse, else 0."""
    if not reply:
        return 0
    try:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceResponse,
        )

        response = ExportTraceServiceResponse()
        response.ParseFromString(reply)
        return int(response.partial_success.rejected_spans)
    except Exception:  # noqa: BLE001 - a body we cannot read reports no rejection
        return 0


def exporter_stats() -> list[dict[str, Any]]:
    """Counters of the OTLP sinks alive in this process."""
    return [exporter.stats() for exporter in list(_EXPORTERS)]
