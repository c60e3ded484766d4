"""Size of a workflow trace file whose 100 LLM calls repeat one 20 KiB prompt, against the
naive file (the same document with every string written out where it occurs).

The workflow has 100 ``llm`` nodes on the offline ``echo`` model, each prompted with the
same 20 KiB document through ``${inputs.doc}``; it runs with ``--trace
--capture-content``, so the prompt sits in each node's params, its template resolution and
its LLM call, and echo's answer (which contains the prompt) in its outputs and the call.
Target: under a quarter of the naive size.

    .venv/bin/python bench/trace_size.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import git_rev, write_section

CALLS = 100
PROMPT_BYTES = 20 * 1024
SPANWISE = str(Path(sys.executable).parent / "spanwise")


def main() -> None:
    from spanwise.workflow._trace_file import layout, resolve_strings

    words = [
        "context",
        "budget",
        "trace",
        "span",
        "token",
        "cost",
        "latency",
        "model",
        "prompt",
        "cache",
    ]
    doc_text = ""
    i = 0
    while len(doc_text) < PROMPT_BYTES:
        doc_text += words[i % len(words)] + " "
        i += 1
    doc_text = doc_text[:PROMPT_BYTES]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        workflow = {
            "name": "repeat-prompt",
            "inputs": {"doc": {"default": doc_text}},
            "nodes": [
                {
                    "id": f"ask-{n}",
                    "type": "llm",
                    "params": {"model": "echo", "prompt": "${inputs.doc}"},
                }
                for n in range(CALLS)
            ],
        }
        (folder / "flow.json").write_text(json.dumps(workflow), encoding="utf-8")
        env = dict(os.environ, SPANWISE_HOME=str(folder / "home"))
        env.pop("SPANWISE_MODE", None)
        subprocess.run(
            [SPANWISE, "run", str(folder / "flow.json"), "--trace", "--capture-content"],
            env=env,
            check=True,
            capture_output=True,
        )
        trace = next((folder / "home" / "debug").glob("workflow-trace-*.json"))
        raw_text = trace.read_text(encoding="utf-8")
    raw = json.loads(raw_text)
    calls = sum(len(n["llm_calls"]) for n in raw["nodes"])
    assert calls == CALLS, calls
    naive = resolve_strings({k: v for k, v in raw.items() if k != "strings"}, raw["strings"])
    naive_text = layout(naive) + "\n"
    size, naive_size = len(raw_text.encode()), len(naive_text.encode())
    ratio = size / naive_size
    verdict = "under" if ratio < 0.25 else "over"
    body = f"""
Command: `.venv/bin/python bench/trace_size.py` (commit {git_rev()}). {CALLS} `llm` nodes on
`echo`, each prompted with the same {PROMPT_BYTES // 1024} KiB document, run with
`spanwise run --trace --capture-content`. The naive file is the same document with every
interned string written out in place (same JSON layout).

| file | size |
| --- | ---: |
| spanwise trace file ({len(raw["strings"])} distinct large strings in its table) | {size / 1024:,.1f} KiB |
| naive file | {naive_size / 1024:,.1f} KiB |
| ratio | **{ratio:.4f}** ({verdict} the 0.25 target) |
"""
    print(body)
    write_section("workflow-trace-size", "Workflow runner: trace file size", body)


if __name__ == "__main__":
    main()
