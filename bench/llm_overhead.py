"""Added latency of an instrumented openai chat call, and the cost of price lookups.

Run: ``.venv/bin/python bench/llm_overhead.py`` (writes its section of docs/benchmarks.md;
``--no-write`` only prints). Each instrumentation runs in its own fresh process against the
local server of ``tests/llm/fake_providers.py`` (real HTTP, keep-alive) and, to see the
overhead without network noise, against the same client with an in-memory ``httpx``
transport. Rounds alternate instrumented and plain blocks of calls in one process; the
figure is the median over rounds of (instrumented − plain) per call.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "llm"))
sys.path.insert(0, str(ROOT / "bench"))

MESSAGES = [{"role": "user", "content": "Say hello"}]
CANNED = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello, world!"},
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 1024},
    },
}
VARIANTS = ("spanwise", "openinference", "logfire", "langfuse")


def _clients(server_url: str) -> dict[str, Any]:
    import httpx
    import openai

    body = json.dumps(CANNED).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    memory = openai.OpenAI(
        api_key="sk-bench",
        base_url="http://bench.invalid/v1",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    server = openai.OpenAI(api_key="sk-bench", base_url=server_url + "/v1", max_retries=0)
    return {"local server": server, "in-memory transport": memory}


def _block(client: Any, calls: int) -> tuple[float, float]:
    """(wall-clock µs, CPU µs of this thread) per call."""
    create = client.chat.completions.create
    start, cpu = time.perf_counter_ns(), time.thread_time_ns()
    for _ in range(calls):
        create(model="gpt-4o", messages=MESSAGES)
    wall_ns, cpu_ns = time.perf_counter_ns() - start, time.thread_time_ns() - cpu
    return wall_ns / calls / 1000, cpu_ns / calls / 1000


def _toggles(variant: str) -> tuple[Callable[[], None], Callable[[], None], Callable[[], Any]]:
    """(instrument, uninstrument, flush) for a variant that can be switched in-process."""
    if variant == "spanwise":
        import spanwise

        spanwise.configure("trace", home=tempfile.mkdtemp(prefix="spanwise-bench-"))
        handle: list[Any] = []
        return (
            lambda: handle.append(spanwise.instrument("openai")),
            lambda: handle.pop().undo(),
            spanwise.flush,
        )
    if variant == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            SpanExporter,
            SpanExportResult,
        )

        class Null(SpanExporter):
            def export(self, spans: Any) -> SpanExportResult:
                return SpanExportResult.SUCCESS

        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(Null()))
        inst = OpenAIInstrumentor()
        return (
            lambda: inst.instrument(tracer_provider=provider),
            inst.uninstrument,
            provider.force_flush,
        )
    if variant == "logfire":
        import logfire

        logfire.configure(send_to_logfire=False, console=False, inspect_arguments=False)
        managers: list[Any] = []

        def on() -> None:
            manager = logfire.instrument_openai()
            manager.__enter__()
            managers.append(manager)

        def off() -> None:
            managers.pop().__exit__(None, None, None)

        return on, off, logfire.force_flush
    raise ValueError(variant)


@contextlib.contextmanager
def _server_process() -> Iterator[str]:
    """The fake provider in a process of its own, as a real provider would be: its work
    does not compete with the measured program (and spanwise's writer) for the GIL."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "llm" / "fake_providers.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)


def run_variant(variant: str, rounds: int, calls: int) -> dict[str, Any]:
    with _server_process() as url:
        clients = _clients(url)
        results: dict[str, Any] = {}
        if variant == "langfuse":
            results = _run_langfuse(clients, max(rounds // 10, 5), calls * 10)
        else:
            on, off, flush = _toggles(variant)
            for name, client in clients.items():
                _block(client, calls)  # warm up connections and lazy imports
                on()
                _block(client, calls)
                off()
                plain, inst = [], []
                for r in range(rounds):
                    order = (False, True) if r % 2 else (True, False)
                    for instrumented in order:
                        if instrumented:
                            on()
                        (inst if instrumented else plain).append(_block(client, calls))
                        if instrumented:
                            off()
                        flush()
                results[name] = _summary(plain, inst)
        for client in clients.values():
            client.close()
    return results


def _run_langfuse(clients: dict[str, Any], rounds: int, calls: int) -> dict[str, Any]:
    # langfuse.openai patches the openai module when imported and cannot be switched off:
    # plain rounds first, then instrumented rounds. Its exporter targets a closed port.
    os.environ.update(
        {
            "LANGFUSE_PUBLIC_KEY": "pk-lf-bench",
            "LANGFUSE_SECRET_KEY": "sk-lf-bench",
            "LANGFUSE_HOST": "http://127.0.0.1:9",
        }
    )
    plain = {name: [_block(c, calls) for _ in range(rounds)] for name, c in clients.items()}
    from langfuse.openai import openai as lf_openai  # noqa: F401 - the import instruments

    results = {}
    for name, client in clients.items():
        _block(client, calls)
        inst = [_block(client, calls) for _ in range(rounds)]
        results[name] = _summary(plain[name], inst)
    return results


def _summary(plain: list[tuple[float, float]], inst: list[tuple[float, float]]) -> dict[str, float]:
    pairs = list(zip(inst, plain, strict=True))
    return {
        "plain_us": statistics.median(p[0] for p in plain),
        "instrumented_us": statistics.median(i[0] for i in inst),
        "added_us": statistics.median(i[0] - p[0] for i, p in pairs),
        "added_cpu_us": statistics.median(i[1] - p[1] for i, p in pairs),
        # Each mode's least-disturbed block: robust when other processes share the cores.
        "added_best_us": min(i[0] for i in inst) - min(p[0] for p in plain),
        "added_best_cpu_us": min(i[1] for i in inst) - min(p[1] for p in plain),
    }


def wrapper_cost(n: int = 5_000) -> dict[str, float]:
    """spanwise's own code per instrumented chat call, without HTTP: the patched method
    around a stand-in that returns a parsed ``ChatCompletion`` (trace mode, SQLite store,
    CPU time of the calling thread; best of 7 blocks)."""
    from openai.types.chat import ChatCompletion

    import spanwise
    from spanwise.integrations import openai as integration
    from spanwise.integrations._common import sync_wrapper

    spanwise.configure("trace", home=tempfile.mkdtemp(prefix="spanwise-bench-"))
    reply = ChatCompletion.model_validate(CANNED)
    resource = _clients("http://127.0.0.1:9")["in-memory transport"].chat.completions

    def original(self: Any, **kwargs: Any) -> Any:
        return reply

    wrapped = sync_wrapper(*integration._CHAT)(original, lambda: True)
    results = {}
    for name, fn in (("plain", original), ("instrumented", wrapped)):
        samples = []
        for _ in range(7):
            start = time.thread_time_ns()
            for _ in range(n):
                fn(resource, model="gpt-4o", messages=MESSAGES)
            samples.append((time.thread_time_ns() - start) / n / 1000)
            spanwise.flush()
        results[name] = min(samples)
    spanwise.shutdown()
    return {"wrapper_us": results["instrumented"] - results["plain"]}


def price_lookups(n: int = 20_000) -> dict[str, float]:
    from spanwise._llm_record import LlmCall
    from spanwise._pricing import Pricer, _lookup, split_model

    pricer = Pricer()
    calls = [
        LlmCall("openai", "gpt-4o", input_tokens=1200, output_tokens=300, cache_read_tokens=1024),
        LlmCall(
            "anthropic",
            "claude-haiku-4-5",
            input_tokens=2600,
            output_tokens=250,
            cache_read_tokens=2000,
            cache_write_tokens=500,
        ),
    ]
    for call in calls:
        pricer.price(call)  # the first lookup of each model
    keys = [split_model(c.provider, c.model) for c in calls]

    def per_call(fn: Callable[[], Any], count: int) -> float:
        samples = []
        for _ in range(5):
            start = time.perf_counter_ns()
            for _ in range(count):
                fn()
            samples.append((time.perf_counter_ns() - start) / count / 1000)
        return statistics.median(samples)

    return {
        "lookup_us": per_call(lambda: [_lookup(*k) for k in keys], n) / len(keys),
        "price_us": per_call(lambda: [pricer.price(c) for c in calls], n) / len(calls),
        "exact_us": per_call(lambda: [pricer.exact_price(c) for c in calls], n // 20) / len(calls),
    }


def _available(variant: str) -> bool:
    module = {
        "openinference": "openinference.instrumentation.openai",
        "logfire": "logfire",
        "langfuse": "langfuse.openai",
        "spanwise": "spanwise",
    }[variant]
    import importlib.util

    try:
        return importlib.util.find_spec(module.split(".")[0]) is not None and (
            importlib.util.find_spec(module) is not None
        )
    except ImportError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variant", choices=VARIANTS)
    parser.add_argument("--rounds", type=int, default=201)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.rounds, args.calls)))
        return
    results: dict[str, Any] = {}
    load = os.getloadavg()[0]
    for variant in VARIANTS:
        if not _available(variant):
            results[variant] = "not installed"
            continue
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--variant",
                variant,
                "--rounds",
                str(args.rounds),
                "--calls",
                str(args.calls),
            ],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if proc.returncode != 0:
            results[variant] = "failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
            continue
        results[variant] = json.loads(proc.stdout.strip().splitlines()[-1])
    prices = price_lookups()
    prices.update(wrapper_cost())
    body = _render(results, prices, args.rounds, args.calls)
    body += (
        f"\n\nLoad average when the run started: {load:.1f} on "
        f"{os.cpu_count()} cores (other work on the machine shows up as noise above)."
    )
    print(body)
    if not args.no_write:
        from _report import git_rev, write_section

        write_section(
            "llm",
            "LLM calls: instrumentation overhead and price lookups",
            body.replace("{rev}", git_rev()),
        )


def _render(results: dict[str, Any], prices: dict[str, float], rounds: int, calls: int) -> str:
    lines = [
        "Command: `.venv/bin/python bench/llm_overhead.py` (commit {rev}). One `openai` chat "
        "call (`client.chat.completions.create`, non-streamed, usage in the response) per "
        f"iteration; {rounds} rounds alternating {calls} instrumented and {calls} plain calls "
        "(small blocks, so bursts of load from other processes hit both alike) in one fresh "
        "process per instrumentation, each tool's background export flushed between rounds. "
        "Langfuse cannot be switched off: its plain rounds (fewer, larger) run before "
        "`langfuse.openai` is imported. The headline is the median over rounds of the "
        "difference per call. spanwise runs in trace mode writing to SQLite; "
        "OpenInference and Logfire with an OpenTelemetry BatchSpanProcessor and an exporter "
        "that discards; Langfuse exporting to a closed local port.",
        "",
        "| instrumentation | transport | plain call | instrumented call | added per call, "
        "median of rounds (spanwise target ≤ 30 µs) | added, best rounds | added CPU in the "
        "caller's thread, median |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for variant, result in results.items():
        if isinstance(result, str):
            lines.append(f"| {variant} | — | — | — | {result} | — | — |")
            continue
        for transport, r in result.items():
            lines.append(
                f"| {variant} | {transport} | {r['plain_us']:.0f} µs | "
                f"{r['instrumented_us']:.0f} µs | **{r['added_us']:+.1f} µs** | "
                f"{r['added_best_us']:+.1f} µs | {r['added_cpu_us']:+.1f} µs |"
            )
    lines += [
        "",
        "Reading the table: the local server is Python's `ThreadingHTTPServer` in a process "
        "of its own (as a provider is), on the same two cores, so its per-call time and its "
        "noise dwarf the differences; the in-memory transport runs the same client code "
        "without the network, in one thread that never waits, so there every µs of work "
        "a tool does in the background (for spanwise: redaction, pricing, building rows; the "
        "SQLite write itself releases the GIL) is taken from the program's thread. "
        '"Added CPU" is the caller thread\'s own CPU time (`time.thread_time_ns`).',
        "",
        "The ≤ 30 µs target is about the first row: the local server's median added "
        "latency per call.",
        "",
        f"**spanwise's own code per call** (a floor under those figures): the "
        f"patched method around a stand-in that returns a parsed response (no HTTP, no client "
        f"code), trace mode with the SQLite store, CPU time of the calling thread, best of 7 "
        f"blocks of 5,000: **{prices['wrapper_us']:.1f} µs** per call.",
        "",
        f"**Price lookup after the first** (target ≤ 5 µs): a call's whole price — the "
        f"model's fitted per-token line and the arithmetic, `Pricer.price` — takes "
        f"**{prices['price_us']:.2f} µs**; the cached genai-prices entry alone "
        f"{prices['lookup_us']:.2f} µs; genai-prices' own Decimal calculation, which the "
        f"line replaces after the first call of a model, {prices['exact_us']:.0f} µs. "
        f"Pricing runs on the writer thread, never in the program's thread.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
