"""A local HTTP server that speaks the OpenAI and Anthropic wire formats, for tests and
benchmarks: real client libraries talk to it unmodified through ``base_url``/``api_base``.

Endpoints: ``POST /v1/chat/completions``, ``/v1/completions``, ``/v1/responses``,
``/v1/embeddings`` (OpenAI) and ``/v1/messages`` (Anthropic), JSON or server-sent events
(``"stream": true``). Chunked transfer encoding is used for streams, as the providers do.

A request picks a scenario with the ``x-scenario`` header:

- ``ok`` (default): a normal answer with the usage below.
- ``no_usage``: no usage anywhere (not even when ``stream_options.include_usage`` asks).
- ``rate_limit`` / ``server_error``: HTTP 429 (``retry-after: 0``) / 500 with an error body.
- ``truncated``: a stream whose connection drops mid-body (a broken chunked encoding).
- ``ends_early``: a stream that ends cleanly but before its final events.
- ``stream_error``: an error event in the middle of a stream.
- ``odd_fields``: unexpected extra fields and nulls in the usage and elsewhere.
- ``slow_first``: ``SLOW_FIRST_S`` seconds pass before the first content chunk.

Usage numbers can be replaced per request with a JSON ``x-usage`` header (provider-native
field names). Every request is kept in ``server.requests`` (path, headers, JSON body).
"""

from __future__ import annotations

import base64
import json
import struct
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SLOW_FIRST_S = 0.15
TEXT_PARTS = ["Hello", ", ", "world", "!"]

# Usage the server reports unless a test overrides it (provider-native field names).
OPENAI_CHAT_USAGE: dict[str, Any] = {
    "prompt_tokens": 1200,
    "completion_tokens": 300,
    "total_tokens": 1500,
    "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 100, "audio_tokens": 0},
}
OPENAI_RESPONSES_USAGE: dict[str, Any] = {
    "input_tokens": 1200,
    "input_tokens_details": {"cached_tokens": 1024},
    "output_tokens": 300,
    "output_tokens_details": {"reasoning_tokens": 100},
    "total_tokens": 1500,
}
# Anthropic reports cache reads and writes ON TOP of input_tokens.
ANTHROPIC_USAGE: dict[str, Any] = {
    "input_tokens": 100,
    "cache_creation_input_tokens": 500,
    "cache_read_input_tokens": 2000,
    "output_tokens": 250,
}
EMBEDDING_USAGE = {"prompt_tokens": 8, "total_tokens": 8}
EMBEDDING_VECTOR = [0.25, -0.5, 0.125, 1.0]

# What the provider answers as the model (a dated snapshot of the requested alias).
RESPONSE_MODELS = {
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "claude-sonnet-4-0": "claude-sonnet-4-20250514",
}


class FakeProviderServer:
    """``with FakeProviderServer() as server: server.url`` — runs on a thread."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(_Handler):
            server_state = outer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(entry)

    def __enter__(self) -> FakeProviderServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once on keep-alive connections
    server_state: FakeProviderServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw or b"{}")
        scenario = self.headers.get("x-scenario", "ok")
        usage_override = self.headers.get("x-usage")
        self.server_state.record({"path": self.path, "headers": dict(self.headers), "body": body})
        if scenario == "rate_limit":
            return self._error(429, "rate_limit_exceeded", "Rate limit reached for requests")
        if scenario == "server_error":
            return self._error(500, "server_error", "The server had an error")
        path = self.path.split("?")[0]
        override = json.loads(usage_override) if usage_override else None
        routes = {
            "/v1/chat/completions": _chat,
            "/v1/completions": _text_completion,
            "/v1/responses": _responses,
            "/v1/embeddings": _embeddings,
            "/v1/messages": _messages,
        }
        route = routes.get(path)
        if route is None:
            return self._error(404, "not_found", f"no route {path}")
        reply = route(body, scenario, override)
        if isinstance(reply, dict):
            self._json(200, reply)
        else:
            self._sse(reply, scenario)

    def _error(self, status: int, code: str, message: str) -> None:
        anthropic = self.path.startswith("/v1/messages")
        if anthropic:
            kind = "rate_limit_error" if status == 429 else "api_error"
            payload: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
        else:
            payload = {"error": {"message": message, "type": code, "param": None, "code": code}}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        if status == 429:
            self.send_header("retry-after", "0")
        self.end_headers()
        self.wfile.write(data)

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _sse(self, events: Iterator[tuple[str | None, Any]], scenario: str) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True
        for name, data in events:
            if name == "__truncate__":
                # Half a chunk, then the connection drops: the body is broken.
                self.wfile.write(b'40\r\ndata: {"partial')
                self.wfile.flush()
                return
            if name == "__sleep__":
                time.sleep(data)
                continue
            text = data if isinstance(data, str) else json.dumps(data)
            frame = (f"event: {name}\n" if name else "") + f"data: {text}\n\n"
            raw = frame.encode()
            self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def _usage(default: dict[str, Any], override: dict[str, Any] | None, scenario: str) -> Any:
    if scenario == "no_usage":
        return None
    usage = json.loads(json.dumps(override if override is not None else default))
    if scenario == "odd_fields":
        usage["surprise_tokens"] = 7
        usage["nested_mystery"] = {"deep": [1, 2, 3]}
        if "prompt_tokens_details" in usage:
            usage["completion_tokens_details"] = None
    return usage


def _response_model(body: dict[str, Any]) -> str:
    model = str(body.get("model", "unknown"))
    return RESPONSE_MODELS.get(model, model)


# -- OpenAI --------------------------------------------------------------------------------


def _chat(body: dict[str, Any], scenario: str, override: Any) -> Any:
    usage = _usage(OPENAI_CHAT_USAGE, override, scenario)
    model = _response_model(body)
    base = {
        "id": "chatcmpl-test1",
        "created": 1_700_000_000,
        "model": model,
        "system_fingerprint": "fp_test",
    }
    if not body.get("stream"):
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(TEXT_PARTS),
            "refusal": None,
        }
        reply: dict[str, Any] = {
            **base,
            "object": "chat.completion",
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
            ],
        }
        if usage is not None:
            reply["usage"] = usage
        if scenario == "odd_fields":
            reply["choices"][0]["mystery"] = {"x": 1}
            reply["service_tier"] = "flex-ultra"
        return reply
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    return _chat_stream(base, usage if include_usage else None, scenario)


def _chat_stream(base: dict[str, Any], usage: Any, scenario: str) -> Iterator[Any]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> Any:
        data = {
            **base,
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            **extra,
        }
        if usage is not None:
            data.setdefault("usage", None)
        return (None, data)

    yield chunk({"role": "assistant", "content": ""})
    if scenario == "slow_first":
        yield ("__sleep__", SLOW_FIRST_S)
    for i, part in enumerate(TEXT_PARTS):
        yield chunk({"content": part})
        if i == 1 and scenario == "truncated":
            yield ("__truncate__", None)
            return
        if i == 1 and scenario == "ends_early":
            return
        if i == 1 and scenario == "stream_error":
            yield (None, {"error": {"message": "overloaded mid-stream", "type": "server_error"}})
            return
    yield chunk({}, "stop")
    if usage is not None:
        yield (None, {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage})
    yield (None, "[DONE]")


def _text_completion(body: dict[str, Any], scenario: str, override: Any) -> Any:
    usage = _usage(OPENAI_CHAT_USAGE, override, scenario)
    reply: dict[str, Any] = {
        "id": "cmpl-test1",
        "object": "text_completion",
        "created": 1_700_000_000,
        "model": _response_model(body),
        "choices": [
            {"index": 0, "text": "".join(TEXT_PARTS), "logprobs": None, "finish_reason": "length"}
        ],
    }
    if usage is not None:
        reply["usage"] = usage
    return reply


def _response_object(body: dict[str, Any], usage: Any, status: str = "completed") -> Any:
    return {
        "id": "resp_test1",
        "object": "response",
        "created_at": 1_700_000_000,
        "status": status,
        "model": _response_model(body),
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "metadata": {},
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "temperature": 1.0,
        "top_p": 1.0,
        "output": []
        if status == "in_progress"
        else [
            {
                "type": "message",
                "id": "msg_test1",
                "status": "completed",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": "".join(TEXT_PARTS), "annotations": []}
                ],
            }
        ],
        "usage": usage,
    }


def _responses(body: dict[str, Any], scenario: str, override: Any) -> Any:
    usage = _usage(OPENAI_RESPONSES_USAGE, override, scenario)
    if not body.get("stream"):
        return _response_object(body, usage)
    return _responses_stream(body, usage, scenario)


def _responses_stream(body: dict[str, Any], usage: Any, scenario: str) -> Iterator[Any]:
    seq = iter(range(1000))

    def event(kind: str, **data: Any) -> Any:
        return (kind, {"type": kind, "sequence_number": next(seq), **data})

    yield event("response.created", response=_response_object(body, None, "in_progress"))
    item = {
        "type": "message",
        "id": "msg_test1",
        "status": "in_progress",
        "role": "assistant",
        "content": [],
    }
    empty_part = {"type": "output_text", "text": "", "annotations": []}
    yield event("response.output_item.added", output_index=0, item=item)
    yield event(
        "response.content_part.added",
        item_id="msg_test1",
        output_index=0,
        content_index=0,
        part=empty_part,
    )
    if scenario == "slow_first":
        yield ("__sleep__", SLOW_FIRST_S)
    for i, part in enumerate(TEXT_PARTS):
        yield event(
            "response.output_text.delta",
            item_id="msg_test1",
            output_index=0,
            content_index=0,
            delta=part,
            logprobs=[],
        )
        if i == 1 and scenario == "truncated":
            yield ("__truncate__", None)
            return
        if i == 1 and scenario == "ends_early":
            return
    text = "".join(TEXT_PARTS)
    yield event(
        "response.output_text.done",
        item_id="msg_test1",
        output_index=0,
        content_index=0,
        text=text,
        logprobs=[],
    )
    done_part = {**empty_part, "text": text}
    yield event(
        "response.content_part.done",
        item_id="msg_test1",
        output_index=0,
        content_index=0,
        part=done_part,
    )
    yield event(
        "response.output_item.done",
        output_index=0,
        item={**item, "status": "completed", "content": [done_part]},
    )
    yield event("response.completed", response=_response_object(body, usage))


def _embeddings(body: dict[str, Any], scenario: str, override: Any) -> Any:
    usage = _usage(EMBEDDING_USAGE, override, scenario)
    inputs = body.get("input")
    count = len(inputs) if isinstance(inputs, list) else 1
    if body.get("encoding_format") == "base64":
        packed = base64.b64encode(struct.pack(f"<{len(EMBEDDING_VECTOR)}f", *EMBEDDING_VECTOR))
        vector: Any = packed.decode()
    else:
        vector = EMBEDDING_VECTOR
    reply: dict[str, Any] = {
        "object": "list",
        "model": _response_model(body),
        "data": [{"object": "embedding", "index": i, "embedding": vector} for i in range(count)],
    }
    if usage is not None:
        reply["usage"] = usage
    return reply


# -- Anthropic -------------------------------------------------------------------------------


def _messages(body: dict[str, Any], scenario: str, override: Any) -> Any:
    usage = _usage(ANTHROPIC_USAGE, override, scenario)
    model = _response_model(body)
    if not body.get("stream"):
        reply: dict[str, Any] = {
            "id": "msg_test1",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": "".join(TEXT_PARTS)}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
        }
        if usage is not None:
            reply["usage"] = usage
        return reply
    return _messages_stream(model, usage, scenario)


def _messages_stream(model: str, usage: Any, scenario: str) -> Iterator[Any]:
    start_usage = None
    if usage is not None:
        start_usage = {**usage, "output_tokens": 1}
    message = {
        "id": "msg_test1",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": model,
        "stop_reason": None,
        "stop_sequence": None,
    }
    if start_usage is not None:
        message["usage"] = start_usage
    yield ("message_start", {"type": "message_start", "message": message})
    yield (
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    )
    yield ("ping", {"type": "ping"})
    if scenario == "slow_first":
        yield ("__sleep__", SLOW_FIRST_S)
    for i, part in enumerate(TEXT_PARTS):
        yield (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": part},
            },
        )
        if i == 1 and scenario == "truncated":
            yield ("__truncate__", None)
            return
        if i == 1 and scenario == "ends_early":
            return
        if i == 1 and scenario == "stream_error":
            yield (
                "error",
                {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            )
            return
    yield ("content_block_stop", {"type": "content_block_stop", "index": 0})
    delta: dict[str, Any] = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
    }
    if usage is not None:
        delta["usage"] = {"output_tokens": usage["output_tokens"]}
    yield ("message_delta", delta)
    yield ("message_stop", {"type": "message_stop"})


if __name__ == "__main__":
    # Serve in a process of its own (the benchmarks do, so that the server's work does not
    # share the measured program's GIL): prints the URL, serves until stdin closes.
    import sys

    with FakeProviderServer() as standalone:
        print(standalone.url, flush=True)
        sys.stdin.read()
