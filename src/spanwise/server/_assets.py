"""Templates and static files, both shipped as package data.

Static files are read once at startup into memory and served by name from that fixed
set; no request path ever reaches the file system.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import jinja2

from spanwise.cli._common import fmt_cost, fmt_duration_ns, fmt_int

STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


class StaticFile:
    __slots__ = ("body", "etag", "media_type")

    def __init__(self, body: bytes, media_type: str) -> None:
        self.body = body
        self.media_type = media_type
        self.etag = hashlib.sha256(body).hexdigest()[:16]


def load_static() -> dict[str, StaticFile]:
    files: dict[str, StaticFile] = {}
    folder = resources.files("spanwise.server").joinpath("static")
    for entry in folder.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if entry.is_file() and suffix in STATIC_TYPES:
            files[entry.name] = StaticFile(entry.read_bytes(), STATIC_TYPES[suffix])
    return files


def fmt_time(ns: int | None) -> str:
    if not ns:
        return "-"
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def fmt_ms(ns: int | float | None) -> str:
    return fmt_duration_ns(ns)


def fmt_span_cost(cost: float | None, pricing_available: Any = None) -> str:
    """One call's cost: unpriced (never $0) when no price is known."""
    if cost is None:
        return "unpriced"
    return fmt_cost(cost)


def fmt_json(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def fmt_bytes(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def make_environment(static: dict[str, StaticFile]) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("spanwise.server", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        cost=fmt_cost,
        span_cost=fmt_span_cost,
        duration=fmt_ms,
        time=fmt_time,
        int=fmt_int,
        pretty=fmt_json,
        bytes=fmt_bytes,
    )
    env.globals["static_url"] = lambda name: f"/static/{name}?v={static[name].etag}"
    return env
