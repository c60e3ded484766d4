"""Sample data recorded through spanwise's own API, and servers started the way a user
starts them (``spanwise serve``), for the dashboard, ingest and retention tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

import spanwise
from spanwise.testing import FakeClock

XSS_NAME = "<script>alert('owned')</script>"
XSS_KEY = '"><img src=x onerror=alert(1)>'
DAY_NS = 86_400 * 10**9


def record_sample(home: Path, store: str | None = None, *, start_ns: int | None = None) -> None:
    """Three traces in two sessions, recorded in trace mode with a fake clock:

    - "checkout flow" (session s-alpha): root workflow → load (5 ms) → chat gpt-4o
      (1000 in / 200 out, 40 ms) → search tool (20 ms) → chat claude-sonnet-4 (anthropic,
      500 in / 100 out, 30 ms). 5 spans, 2 priced LLM calls.
    - "failing run" (session s-beta): root → chat mystery-model-x (unpriced, 10 ms) → a
      tool that raises. 3 spans, status error.
    - XSS_NAME (no session): one span with a hostile attribute key and value.
    """
    clock = FakeClock(start_ns if start_ns is not None else time.time_ns() - 3_600 * 10**9)
    spanwise.configure(
        "trace", home=home, store=store, capture_content=True, clock=clock, session="s-alpha"
    )
    with spanwise.span("checkout flow", kind="workflow"):
        with spanwise.span("load", kind="node"):
            clock.advance(ms=5)
        clock.advance(ms=40)  # a recorded call ends now and started duration_ms ago
        spanwise.record_llm_call(
            provider="openai",
            model="gpt-4o",
            input_tokens=1000,
            output_tokens=200,
            duration_ms=40,
            prompt=[{"role": "user", "content": "What is in my cart?"}],
            response="Two books.",
        )
        with spanwise.span("search", kind="tool"):
            clock.advance(ms=20)
        clock.advance(ms=30)
        spanwise.record_llm_call(
            provider="anthropic",
            model="claude-sonnet-4-0",
            input_tokens=500,
            output_tokens=100,
            duration_ms=30,
            usage_convention="inclusive",
        )
    spanwise.flush()
    spanwise.configure(
        "trace", home=home, store=store, capture_content=True, clock=clock, session="s-beta"
    )
    clock.advance(s=60)
    try:
        with spanwise.span("failing run", kind="workflow"):
            clock.advance(ms=10)
            spanwise.record_llm_call(
                provider="acme",
                model="mystery-model-x",
                input_tokens=10,
                output_tokens=5,
                duration_ms=10,
            )
            with spanwise.span("flaky tool", kind="tool"):
                clock.advance(ms=3)
                raise RuntimeError("upstream said no")
    except RuntimeError:
        pass
    spanwise.flush()
    spanwise.configure("trace", home=home, store=store, clock=clock)
    clock.advance(s=60)
    with spanwise.span(XSS_NAME, **{XSS_KEY: "<b>bold</b>"}):
        clock.advance(ms=1)
    spanwise.shutdown()
    spanwise.configure("off")


def record_many(
    home: Path,
    count: int,
    store: str | None = None,
    *,
    start_ns: int,
    step_ns: int = 10**9,
    name: str = "batch job",
) -> None:
    """``count`` one-span traces named ``name #i``, ``step_ns`` apart from ``start_ns``."""
    clock = FakeClock(start_ns)
    spanwise.configure("trace", home=home, store=store, clock=clock)
    for i in range(count):
        with spanwise.span(f"{name} #{i}"):
            clock.advance(ms=1)
        clock.advance(ns=step_ns)
    spanwise.shutdown()
    spanwise.configure("off")


def sqlite_url(home: Path) -> str:
    return f"sqlite://{(home / 'spanwise.db').resolve()}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """``spanwise serve`` in a child process on a free loopback port."""

    def __init__(
        self, store: str, *, env: dict[str, str] | None = None, args: tuple[str, ...] = ()
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.store = store
        cmd = [
            sys.executable,
            "-m",
            "spanwise.cli",
            "serve",
            "--port",
            str(self.port),
            "--store",
            store,
            *args,
        ]
        self.proc = subprocess.Popen(
            cmd,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._wait_ready(headers=_auth(env))

    def _wait_ready(self, headers: dict[str, str], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                raise RuntimeError(f"spanwise serve exited {self.proc.returncode}: {err}{out}")
            try:
                reply = httpx.get(self.url + "/api/health", headers=headers, timeout=1)
                if reply.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("spanwise serve did not become ready")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def _auth(env: dict[str, str] | None) -> dict[str, str]:
    token = (env or {}).get("SPANWISE_TOKEN")
    return {"authorization": f"Bearer {token}"} if token else {}


def otel_genai_program(endpoint: str, *, service: str = "otel-demo") -> str:
    """Source of a program that uses the real OpenTelemetry SDK and OTLP/HTTP exporter to
    send a GenAI trace: an agent span with two chat calls (gpt-4o-mini priced, one with
    cached tokens) and a tool call."""
    return f'''
import sys
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.otlp.proto.http import Compression

headers = {{}}
if len(sys.argv) > 1:
    headers["authorization"] = "Bearer " + sys.argv[1]
provider = TracerProvider(resource=Resource.create({{"service.name": "{service}"}}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(
    endpoint="{endpoint}", headers=headers, compression=Compression.Gzip)))
tracer = provider.get_tracer("demo")
with tracer.start_as_current_span("support agent") as root:
    root.set_attribute("session.id", "otel-session-1")
    root.set_attribute("gen_ai.operation.name", "invoke_agent")
    for i, (inp, out, cached) in enumerate([(1200, 300, 0), (2000, 150, 1024)]):
        name = f"chat gpt-4o-mini #{{i}}"
        with tracer.start_as_current_span(name, kind=trace.SpanKind.CLIENT) as s:
            s.set_attribute("gen_ai.operation.name", "chat")
            s.set_attribute("gen_ai.provider.name", "openai")
            s.set_attribute("gen_ai.request.model", "gpt-4o-mini")
            s.set_attribute("gen_ai.response.model", "gpt-4o-mini-2024-07-18")
            s.set_attribute("gen_ai.usage.input_tokens", inp)
            s.set_attribute("gen_ai.usage.output_tokens", out)
            if cached:
                s.set_attribute("gen_ai.usage.cache_read.input_tokens", cached)
    with tracer.start_as_current_span("lookup order") as t:
        t.set_attribute("gen_ai.operation.name", "execute_tool")
        t.set_attribute("gen_ai.tool.name", "lookup_order")
ok = provider.force_flush(10_000)
provider.shutdown()
print("flushed" if ok else "flush failed")
'''
