"""``read-file`` and ``write-file``. Relative paths are relative to the current directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from spanwise.workflow.nodes._base import NodeContext, NodeError, NodeType, Param


class ReadFileNode(NodeType):
    type_name = "read-file"
    description = "Read a text file."
    params = (
        Param("path", "The file to read.", required=True),
        Param("encoding", "Text encoding.", default="utf-8"),
    )
    outputs = (("content", "The file's text."), ("path", "The absolute path read."))

    def run(self, params: dict[str, Any], ctx: NodeContext) -> dict[str, Any]:
        path = Path(str(params["path"])).expanduser()
        try:
            content = path.read_text(encoding=str(params.get("encoding") or "utf-8"))
        except FileNotFoundError:
            raise NodeError(f"no such file: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise NodeError(f"cannot read {path}: {_reason(exc)}") from None
        return {"content": content, "path": str(path.resolve())}


class WriteFileNode(NodeType):
    type_name = "write-file"
    description = "Write text to a file (parent folders are created)."
    params = (
        Param("path", "The file to write.", required=True),
        Param(
            "content",
            "The text to write (non-text values are written as JSON).",
            kind="any",
            required=True,
        ),
        Param("append", "Append instead of replacing the file.", kind="boolean", default=False),
        Param("encoding", "Text encoding.", default="utf-8"),
    )
    outputs = (("path", "The absolute path written."), ("bytes", "How many bytes were written."))

    def run(self, params: dict[str, Any], ctx: NodeContext) -> dict[str, Any]:
        path = Path(str(params["path"])).expanduser()
        content = params["content"]
        text = content if isinstance(content, str) else json.dumps(content, indent=2, default=str)
        data = text.encode(str(params.get("encoding") or "utf-8"))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "ab" if params.get("append") else "wb") as f:
                f.write(data)
        except OSError as exc:
            raise NodeError(f"cannot write {path}: {_reason(exc)}") from None
        return {"path": str(path.resolve()), "bytes": len(data)}


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)
