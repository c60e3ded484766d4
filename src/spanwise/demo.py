"""The offline demo: an agent-shaped run with nested spans and priced LLM-call records
(real model names, one unpriced local model), then its trace tree and cost table.

Run: ``python -m spanwise.demo`` (records into SPANWISE_HOME, default ~/.spanwise).
"""

from __future__ import annotations

import time
from typing import Any

import spanwise


def _work(ms: float) -> None:
    time.sleep(ms / 1000)


@spanwise.span("retrieve documents", kind="tool")
def retrieve(query: str) -> list[str]:
    _work(12)
    return [f"doc about {query} #{i}" for i in range(3)]


def llm(provider: str, model: str, ms: float, **usage: Any) -> None:
    """Stand-in for a provider call: time passes, then the usage the API reported is recorded."""
    start = spanwise.current_span()
    t0 = time.time_ns()
    _work(ms)
    spanwise.record_llm_call(
        provider=provider, model=model, start_ns=t0, end_ns=time.time_ns(), **usage
    )
    del start


def agent_run(question: str) -> str:
    with spanwise.span("answer question", kind="agent", question=question):
        with spanwise.span("plan", kind="node"):
            llm(
                "openai",
                "gpt-4o",
                35,
                input_tokens=1_850,
                output_tokens=220,
                cache_read_tokens=1_024,
                finish_reasons=["stop"],
            )
        docs = retrieve(question)
        with spanwise.span("draft answer", kind="node", documents=len(docs)):
            # Anthropic reports cache reads and writes on top of input tokens; spanwise
            # stores input inclusive of them, as OpenTelemetry defines it.
            llm(
                "anthropic",
                "claude-sonnet-4-0",
                60,
                input_tokens=900,
                output_tokens=640,
                cache_read_tokens=2_000,
                cache_write_tokens=500,
            )
        with spanwise.span("check facts", kind="tool"):
            try:
                with spanwise.span("lookup citation", kind="tool", doc=docs[0]):
                    _work(3)
                    raise TimeoutError("citation service did not answer in 3 ms")
            except TimeoutError:
                pass  # the agent carries on; the failed span stays in the trace
        with spanwise.span("summarize", kind="node"):
            llm("ollama", "my-local-finetune", 20, input_tokens=700, output_tokens=90)
            llm("openai", "gpt-4o-mini", 15, input_tokens=400, output_tokens=60)
    return "42"


def main() -> None:
    settings = spanwise.configure("trace")
    with spanwise.span("demo") as root:
        agent_run("What does spanwise record?")
    spanwise.shutdown()
    _print(settings.store or "", f"{root.trace_id:032x}")
    _run_example_workflow(settings.home)


def _print(store: str, trace_hex: str) -> None:
    from spanwise.cli import cli

    cli.main(["trace", trace_hex, "--store", store], standalone_mode=False)
    print()
    cli.main(["cost", "--by", "model", "--store", store], standalone_mode=False)
    summary = f"\ntrace {trace_hex[:12]} stored in {store}; try: spanwise traces"
    print(summary)


def _run_example_workflow(home: Any) -> None:
    """The bundled example workflow on the offline ``echo`` model, in trace mode: it lands
    in the store and writes a workflow trace file under SPANWISE_HOME/debug."""
    import click

    from spanwise.cli import cli

    output = home / "echo-summary.md"
    print("\n$ spanwise run example:echo-summary --trace")
    try:
        cli.main(
            ["run", "example:echo-summary", "--trace", "--param", f"output={output}"],
            standalone_mode=False,
        )
    except click.ClickException as exc:  # e.g. the llm library is not installed
        print(f"(the workflow step did not run: {exc.message})")


if __name__ == "__main__":
    main()
