"""``shell``: run a command through the system shell and keep what it printed."""

from __future__ import annotations

import os
import subprocess
from typing import Any

from spanwise.workflow.nodes._base import NodeContext, NodeError, NodeType, Param

MAX_STDERR_IN_ERROR = 200


class ShellNode(NodeType):
    type_name = "shell"
    description = "Run a shell command; fails when it exits non-zero (unless check is false)."
    params = (
        Param("command", "The command line, run by /bin/sh.", required=True),
        Param("cwd", "Working directory."),
        Param("env", "Extra environment variables.", kind="object"),
        Param("stdin", "Text to send to the command's standard input."),
        Param("timeout", "Seconds before the command is stopped.", kind="number", default=300),
        Param("check", "Fail the node on a non-zero exit code.", kind="boolean", default=True),
    )
    outputs = (
        ("stdout", "What the command printed."),
        ("stderr", "What it printed on standard error."),
        ("exit_code", "Its exit code."),
    )

    def run(self, params: dict[str, Any], ctx: NodeContext) -> dict[str, Any]:
        env = None
        if params.get("env"):
            env = dict(os.environ)
            env.update({str(k): str(v) for k, v in params["env"].items()})
        timeout = float(params.get("timeout") or 300)
        try:
            proc = subprocess.run(
                str(params["command"]),
                shell=True,
                cwd=params.get("cwd") or None,
                env=env,
                input=params.get("stdin"),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise NodeError(f"command timed out after {timeout:g}s") from None
        except OSError as exc:
            raise NodeError(f"cannot run the command: {exc.strerror or exc}") from None
        if proc.returncode != 0 and params.get("check", True):
            tail = proc.stderr.strip().splitlines()[-1:] if proc.stderr.strip() else []
            detail = f": {tail[0][:MAX_STDERR_IN_ERROR]}" if tail else ""
            raise NodeError(f"command exited with code {proc.returncode}{detail}")
        return {"stdout": proc.stdout, "stderr": proc.stderr, "exit_code": proc.returncode}
