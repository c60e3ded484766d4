"""``spanwise.instrument()`` and ``spanwise exec``'s auto-instrumentation, in fresh
interpreters (the libraries must not be imported yet)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import spanwise


def run_python(code: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def test_unknown_name_is_a_one_line_value_error():
    with pytest.raises(ValueError, match="unknown integration 'gemini': expected one of"):
        spanwise.instrument("gemini")


def test_a_missing_library_names_the_pip_extra():
    result = run_python("""
        import sys
        sys.modules["anthropic"] = None  # as if it were not installed
        import spanwise
        try:
            spanwise.instrument("anthropic")
        except ImportError as exc:
            print(str(exc))
    """)
    assert result.stdout.strip() == (
        "spanwise.instrument('anthropic') needs the 'anthropic' package: "
        "pip install 'spanwise[anthropic]'"
    )


def test_instrument_all_patches_libraries_when_the_program_imports_them():
    result = run_python("""
        import sys, json
        import spanwise
        handle = spanwise.instrument()
        before = "openai" in sys.modules
        import openai
        from openai.resources.chat.completions import Completions
        patched = hasattr(Completions.create, "__spanwise_original__")
        handle.undo()
        undone = not hasattr(Completions.create, "__spanwise_original__")
        print(json.dumps({"imported_early": before, "deferred": list(handle.deferred),
                          "patched": patched, "undone": undone}))
    """)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["imported_early"] is False  # instrument() imports no library itself
    assert {"openai", "anthropic", "litellm"} <= set(report["deferred"])
    assert report["patched"] and report["undone"]


def test_instrument_all_patches_an_already_imported_library_at_once():
    import openai  # noqa: F401 - imported before, as in most programs

    handle = spanwise.instrument()
    try:
        assert "openai" in handle.names
        from openai.resources.chat.completions import Completions

        assert hasattr(Completions.create, "__spanwise_original__")
    finally:
        handle.undo()


APP = """
import sys
import openai

client = openai.OpenAI(base_url=sys.argv[1] + "/v1", api_key="sk-test", max_retries=0)
reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
print("app got:", reply.choices[0].message.content)
client.close()
"""


def test_spanwise_exec_instruments_the_program_and_keeps_its_sitecustomize(provider, tmp_path):
    app = tmp_path / "app.py"
    app.write_text(APP)
    own_site = tmp_path / "own-site"
    own_site.mkdir()
    marker = tmp_path / "marker.txt"
    (own_site / "sitecustomize.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    home = tmp_path / "home"
    env = {**os.environ, "SPANWISE_HOME": str(home), "PYTHONPATH": str(own_site)}
    env.pop("SPANWISE_MODE", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "spanwise.cli",
            "exec",
            "--",
            sys.executable,
            str(app),
            provider.url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "app got: Hello, world!" in result.stdout
    assert marker.read_text() == "ran"  # the program's own sitecustomize still ran
    con = sqlite3.connect(home / "spanwise.db")
    try:
        rows = con.execute(
            "SELECT l.request_model, l.input_tokens, l.cost_usd, s.parent_span_id, l.trace_id "
            "FROM llm_calls l JOIN spans s ON s.span_id = l.span_id"
        ).fetchall()
        root = con.execute("SELECT trace_id, span_id FROM spans WHERE kind = 'workflow'").fetchone()
    finally:
        con.close()
    assert len(rows) == 1
    model, tokens, cost, parent, trace_id = rows[0]
    assert (model, tokens) == ("gpt-4o", 1200)
    assert cost > 0
    assert (trace_id, parent) == tuple(root)  # nested under the exec run's root span
    assert "1 LLM calls" in result.stdout
