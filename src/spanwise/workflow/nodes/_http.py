"""``http``: one HTTP request with the standard library."""

from __future__ import annotations

import json
from typing import Any

from spanwise.workflow.nodes._base import NodeContext, NodeError, NodeType, Param

MAX_BODY_BYTES = 10 * 1024 * 1024


class HttpNode(NodeType):
    type_name = "http"
    description = "Make an HTTP request; fails on a 4xx/5xx status unless fail_on_error is false."
    params = (
        Param("url", "The URL (http or https).", required=True),
        Param("method", "HTTP method.", default="GET"),
        Param("headers", "Request headers.", kind="object"),
        Param("body", "Request body text."),
        Param("json", "A JSON request body (sets Content-Type).", kind="any"),
        Param("timeout", "Seconds to wait for the server.", kind="number", default=30),
        Param("fail_on_error", "Fail the node on a 4xx/5xx status.", kind="boolean", default=True),
    )
    outputs = (
        ("status", "The HTTP status code."),
        ("headers", "Response headers."),
        ("body", "The response body as text."),
        ("json", "The body parsed as JSON, or null."),
    )

    @classmethod
    def check(cls, params: dict[str, Any]) -> str | None:
        url = params.get("url")
        if isinstance(url, str) and "${" not in url and not url.startswith(("http://", "https://")):
            return f"url must start with http:// or https://, not {url!r}"
        return None

    def run(self, params: dict[str, Any], ctx: NodeContext) -> dict[str, Any]:
        import urllib.error
        import urllib.request

        url = str(params["url"])
        if not url.startswith(("http://", "https://")):
            raise NodeError(f"url must start with http:// or https://, not {url!r}")
        headers = {str(k): str(v) for k, v in (params.get("headers") or {}).items()}
        data: bytes | None = None
        if params.get("json") is not None:
            data = json.dumps(params["json"]).encode()
            headers.setdefault("Content-Type", "application/json")
        elif params.get("body") is not None:
            data = str(params["body"]).encode()
        method = str(params.get("method") or "GET").upper()
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        timeout = float(params.get("timeout") or 30)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as resp:
                status, resp_headers, raw = (
                    resp.status,
                    dict(resp.headers),
                    resp.read(MAX_BODY_BYTES),
                )
        except urllib.error.HTTPError as exc:
            status, resp_headers, raw = exc.code, dict(exc.headers or {}), exc.read(MAX_BODY_BYTES)
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise NodeError(f"{method} {url} failed: {reason}") from None
        body = raw.decode("utf-8", "replace")
        if status >= 400 and params.get("fail_on_error", True):
            raise NodeError(f"{method} {url} returned HTTP {status}")
        return {"status": status, "headers": resp_headers, "body": body, "json": _json(body)}


def _json(body: str) -> Any:
    text = body.strip()
    if not text or (text[0] not in '[{"' and not text[0].isdigit()):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
