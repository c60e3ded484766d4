"""Helpers for the workflow runner tests: a small ``llm`` plugin with deterministic models
(registered through llm's own plugin manager), the CLI run as a user runs it, and
workflow files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

SPANWISE = str(Path(sys.executable).parent / "spanwise")
PRICED_USAGE = (1000, 500)  # input, output tokens the priced test model reports
# gpt-4o-mini: $0.15 per million input tokens, $0.60 per million output tokens.
PRICED_CALL_COST = (1000 * 0.15 + 500 * 0.60) / 1e6


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_spanwise(
    *args: str, cwd: Path | None = None, prefix: tuple[str, ...] = (), timeout: float = 120
) -> CliResult:
    """The installed ``spanwise`` command, in a subprocess (environment inherited)."""
    proc = subprocess.run(
        [*prefix, SPANWISE, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def run_cli(*args: str) -> CliResult:
    """The CLI in this process (so the test models registered here are visible)."""
    from click.testing import CliRunner

    from spanwise.cli import cli

    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return CliResult(result.exit_code, result.stdout, result.stderr)


def write_workflow(folder: Path, data: dict[str, Any], name: str = "flow.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def trace_files(home: Path, prefix: str = "workflow-trace-") -> list[Path]:
    debug = home / "debug"
    return sorted(debug.glob(f"{prefix}*.json")) if debug.is_dir() else []


def unprivileged() -> tuple[str, ...]:
    """A command prefix that makes root obey file permissions (drops CAP_DAC_OVERRIDE)."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("running as root needs setpriv (util-linux) to test a read-only folder")
    return (setpriv, "--bounding-set=-dac_override,-dac_read_search")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return Path(os.environ["SPANWISE_HOME"])


# -- deterministic llm models ------------------------------------------------------------
class PricedModel:
    """Answers ``priced: <prompt>`` and reports fixed usage; its id is one genai-prices
    knows, so its calls have a cost."""

    model_id = "gpt-4o-mini"
    can_stream = True

    def execute(self, prompt: Any, stream: bool, response: Any, conversation: Any = None) -> Any:
        response.set_usage(input=PRICED_USAGE[0], output=PRICED_USAGE[1])
        yield f"priced: {prompt.prompt}"


class DetailedModel:
    """Reports usage the way llm's OpenAI plugin does: cached and reasoning tokens in
    nested ``details``."""

    model_id = "gpt-4o"
    can_stream = True

    def execute(self, prompt: Any, stream: bool, response: Any, conversation: Any = None) -> Any:
        response.set_usage(input=2000, output=300, details=DETAILS)
        yield "detailed"


DETAILS = {
    "prompt_tokens_details": {"cached_tokens": 1500},
    "completion_tokens_details": {"reasoning_tokens": 100},
}


class NoUsageModel:
    """A plugin model that never reports usage."""

    model_id = "no-usage"
    can_stream = True

    def execute(self, prompt: Any, stream: bool, response: Any, conversation: Any = None) -> Any:
        yield f"no usage: {prompt.prompt}"


class ScriptedModel:
    """Answers with the next scripted reply (the planner tests); records the prompts."""

    model_id = "scripted"
    can_stream = True
    replies: ClassVar[list[str]] = []
    prompts: ClassVar[list[str]] = []

    def execute(self, prompt: Any, stream: bool, response: Any, conversation: Any = None) -> Any:
        ScriptedModel.prompts.append(prompt.prompt)
        reply = ScriptedModel.replies.pop(0) if ScriptedModel.replies else "no more replies"
        response.set_usage(input=len(prompt.prompt.split()), output=len(reply.split()))
        yield reply


class BrokenModel:
    model_id = "broken"
    can_stream = True

    def execute(self, prompt: Any, stream: bool, response: Any, conversation: Any = None) -> Any:
        raise RuntimeError("the model service is down")
        yield ""  # pragma: no cover - makes this a generator


def _model_classes() -> list[type]:
    import llm

    return [
        type(cls.__name__, (cls, llm.Model), {})
        for cls in (PricedModel, DetailedModel, NoUsageModel, ScriptedModel, BrokenModel)
    ]


@pytest.fixture
def test_models() -> Iterator[type[ScriptedModel]]:
    """Register the deterministic models with llm's plugin manager for one test."""
    from llm.plugins import pm

    import llm

    classes = _model_classes()
    plugin = types.ModuleType("spanwise_test_models")

    @llm.hookimpl(trylast=True)  # after the built-in plugins, so our gpt-4o-mini wins
    def register_models(register: Any) -> None:
        for cls in classes:
            register(cls())

    plugin.register_models = register_models  # type: ignore[attr-defined]
    ScriptedModel.replies.clear()
    ScriptedModel.prompts.clear()
    pm.register(plugin, name="spanwise-test-models")
    try:
        yield ScriptedModel
    finally:
        pm.unregister(name="spanwise-test-models")
