"""Node types against real things (files, a local HTTP server, a module beside the
workflow), templates, namespacing and validation messages, through the Python API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from spanwise.workflow import WorkflowError, load_workflow, parse_workflow, run_workflow, validate

from .conftest import write_workflow


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/missing":
            self._send(404, b"gone", "text/plain")
        else:
            self._send(
                200, json.dumps({"path": self.path, "items": [1, 2]}).encode(), "application/json"
            )

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self._send(
            201,
            json.dumps({"got": json.loads(body), "auth": self.headers.get("X-Token")}).encode(),
            "application/json",
        )

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def flow(nodes: list[dict[str, Any]], **extra: Any) -> Any:
    return parse_workflow({"name": "t", "nodes": nodes, **extra})


def test_http_node_and_whole_value_templates(server: str) -> None:
    wf = flow(
        [
            {"id": "get", "type": "http", "params": {"url": f"{server}/items"}},
            {
                "id": "post",
                "type": "http",
                "params": {
                    "url": f"{server}/echo",
                    "method": "POST",
                    "headers": {"X-Token": "t-1"},
                    "json": {"items": "${get.json.items}"},
                },
            },
        ],
        outputs={
            "first": "${get.json.items.0}",
            "got": "${post.json.got}",
            "status": "${post.status}",
        },
    )
    result = run_workflow(wf)
    assert result.ok, result.error
    assert result.outputs == {"first": 1, "got": {"items": [1, 2]}, "status": 201}
    assert result.store["post"]["json"]["auth"] == "t-1"


def test_http_error_status_fails_the_node(server: str) -> None:
    result = run_workflow(
        flow([{"id": "h", "type": "http", "params": {"url": f"{server}/missing"}}])
    )
    assert result.error == f"node 'h' (http) failed: GET {server}/missing returned HTTP 404"
    lenient = run_workflow(
        flow(
            [
                {
                    "id": "h",
                    "type": "http",
                    "params": {"url": f"{server}/missing", "fail_on_error": False},
                }
            ]
        )
    )
    assert lenient.ok and lenient.store["h"]["status"] == 404


def test_files_and_a_module_beside_the_workflow(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "tools_beside.py").write_text(
        "def words(text, limit=2):\n    return text.split()[:limit]\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path.parent)
    path = write_workflow(
        tmp_path,
        {
            "name": "files",
            "inputs": {"limit": {"type": "integer", "default": 1}},
            "nodes": [
                {
                    "id": "w",
                    "type": "write-file",
                    "params": {
                        "path": str(tmp_path / "out" / "a.txt"),
                        "content": "alpha beta gamma",
                    },
                },
                {"id": "r", "type": "read-file", "params": {"path": "${w.path}"}},
                {
                    "id": "p",
                    "type": "python",
                    "params": {
                        "callable": "tools_beside.words",
                        "args": {"text": "${r.content}", "limit": "${inputs.limit}"},
                    },
                },
                {
                    "id": "j",
                    "type": "write-file",
                    "params": {"path": str(tmp_path / "out" / "b.json"), "content": "${p.result}"},
                },
            ],
            "outputs": {"words": "${p.result}", "line": "got ${p.result} from ${w.bytes} bytes"},
        },
    )
    result = run_workflow(load_workflow(path), {"limit": "2"})
    assert result.ok, result.error
    assert result.outputs == {
        "words": ["alpha", "beta"],
        "line": 'got ["alpha", "beta"] from 16 bytes',
    }
    assert json.loads((tmp_path / "out" / "b.json").read_text()) == ["alpha", "beta"]
    # Each node's outputs live under its id.
    assert set(result.store) == {"inputs", "w", "r", "p", "j"}
    assert result.store["r"]["content"] == "alpha beta gamma"


def test_escaped_and_missing_templates() -> None:
    ok = run_workflow(
        flow([{"id": "s", "type": "shell", "params": {"command": "printf '%s' '$${HOME} stays'"}}])
    )
    assert ok.store["s"]["stdout"] == "${HOME} stays"
    wf = flow(
        [
            {"id": "a", "type": "shell", "params": {"command": "true"}},
            {
                "id": "b",
                "type": "python",
                "params": {"callable": "builtins:len", "args": {"obj": "${a.stdout.deeper}"}},
            },
        ]
    )
    result = run_workflow(wf)
    assert result.error == (
        "node 'b' (python) failed: ${a.stdout.deeper}: a.stdout is a str, not an object with "
        "'deeper'"
    )


def test_templates_order_nodes_without_edges() -> None:
    wf = flow(
        [
            {"id": "late", "type": "shell", "params": {"command": "echo ${early.stdout}"}},
            {"id": "early", "type": "shell", "params": {"command": "echo first"}},
        ]
    )
    assert validate(wf) == ["early", "late"]
    assert run_workflow(wf).store["late"]["stdout"] == "first\n"


@pytest.mark.parametrize(
    ("nodes", "extra", "message"),
    [
        (
            [{"id": "a", "type": "shell", "params": {"command": "ls", "cmd": "x"}}],
            {},
            "node 'a' (shell): unknown parameter 'cmd' "
            "(allowed: command, cwd, env, stdin, timeout, check)",
        ),
        (
            [{"id": "a", "type": "shell", "params": {"command": "ls", "timeout": "soon"}}],
            {},
            "node 'a' (shell): parameter 'timeout' must be a number, not \"soon\"",
        ),
        (
            [{"id": "a", "type": "python", "params": {"callable": "nomodule"}}],
            {},
            "node 'a' (python): callable 'nomodule' needs a module, like 'package.module:function'",
        ),
        (
            [{"id": "a", "type": "http", "params": {"url": "ftp://x"}}],
            {},
            "node 'a' (http): url must start with http:// or https://, not 'ftp://x'",
        ),
        (
            [{"id": "a", "type": "shell", "params": {"command": "${inputs.nope}"}}],
            {},
            "node 'a': template ${inputs.nope} in 'command' uses undeclared input 'nope' "
            "(declared: none)",
        ),
        (
            [
                {"id": "a", "type": "shell", "params": {"command": "ls"}},
                {"id": "b", "type": "shell", "params": {"command": "${a.text}"}},
            ],
            {},
            "node 'b': template ${a.text} in 'command': node 'a' (shell) has no output 'text' "
            "(outputs: stdout, stderr, exit_code)",
        ),
        (
            [{"id": "a", "type": "shell", "params": {"command": "${a.stdout}"}}],
            {},
            "node 'a': template ${a.stdout} in 'command' refers to the node itself",
        ),
        (
            [{"id": "a", "type": "shell", "params": {"command": "ls"}}],
            {"outputs": {"x": "${z.stdout}"}},
            "output 'x': template ${z.stdout} refers to unknown node 'z'",
        ),
        (
            [
                {"id": "a", "type": "shell", "params": {"command": "ls"}},
                {"id": "a", "type": "shell", "params": {"command": "ls"}},
            ],
            {},
            "node 'a': duplicate id",
        ),
        ([{"type": "shell", "params": {"command": "ls"}}], {}, "node #1: missing 'id'"),
        ([], {}, "workflow: 'nodes' must be a non-empty list"),
        (
            [
                {"id": "a", "type": "shell", "params": {"command": "ls"}},
                {"id": "b", "type": "shell", "params": {"command": "ls"}},
            ],
            {"edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}]},
            "node 'a': cycle a → b → a",
        ),
    ],
)
def test_validation_messages_name_the_node(
    nodes: list[dict[str, Any]], extra: dict[str, Any], message: str
) -> None:
    with pytest.raises(WorkflowError) as err:
        validate(parse_workflow({"name": "t", "nodes": nodes, **extra}))
    assert str(err.value) == message
    assert "\n" not in str(err.value)


def test_a_node_that_raises_is_the_run_error_not_a_crash() -> None:
    result = run_workflow(
        flow(
            [
                {
                    "id": "div",
                    "type": "python",
                    "params": {"callable": "operator:truediv", "args": {}},
                },
            ]
        )
    )
    assert result.failed_node == "div"
    assert result.error is not None and result.error.startswith(
        "node 'div' (python) failed: TypeError"
    )
