"""A local OTLP/HTTP trace receiver for tests: it keeps every request and answers with
scripted statuses (then 200), decoding bodies with ``opentelemetry-proto``."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


class Reply:
    def __init__(
        self, status: int = 200, retry_after: str | None = None, rejected: int = 0
    ) -> None:
        self.status = status
        self.retry_after = retry_after
        self.rejected = rejected


class OtlpReceiver:
    def __init__(self, script: list[Reply] | None = None) -> None:
        self.script = list(script or [])
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with outer.lock:
                    reply = outer.script.pop(0) if outer.script else Reply()
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    outer.requests.append(
                        {
                            "path": self.path,
                            "headers": headers,
                            "body": body,
                            "time": time.monotonic(),
                            "status": reply.status,
                        }
                    )
                response = ExportTraceServiceResponse()
                if reply.rejected:
                    response.partial_success.rejected_spans = reply.rejected
                data = response.SerializeToString() if reply.status == 200 else b"{}"
                self.send_response(reply.status)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(data)))
                if reply.retry_after is not None:
                    self.send_header("retry-after", reply.retry_after)
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def accepted_spans(self) -> list[Any]:
        """Spans of the requests answered 200, decoded."""
        spans = []
        with self.lock:
            bodies = [r["body"] for r in self.requests if r["status"] == 200]
        for body in bodies:
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource_spans in request.resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    spans.extend(scope_spans.spans)
        return spans

    def decoded(self, index: int = 0) -> ExportTraceServiceRequest:
        request = ExportTraceServiceRequest()
        request.ParseFromString(self.requests[index]["body"])
        return request

    def __enter__(self) -> OtlpReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def attributes(pb_attributes: Any) -> dict[str, Any]:
    """KeyValue list → dict of plain values."""
    result: dict[str, Any] = {}
    for kv in pb_attributes:
        value = kv.value
        kind = value.WhichOneof("value")
        if kind == "array_value":
            result[kv.key] = [getattr(v, v.WhichOneof("value")) for v in value.array_value.values]
        else:
            result[kv.key] = getattr(value, kind) if kind else None
    return result
