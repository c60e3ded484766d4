"""Shared CLI plumbing: the injected console, the store, durations, money."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any, TypeVar

import click


class CliError(Exception):
    """A user-facing error: one line, exit code 1."""


def _injected(ctx: click.Context | None) -> tuple[dict[str, Any], Any]:
    """The root context's ``obj`` (a dict, or a new one) and the console it holds, if any."""
    root = (ctx or click.get_current_context()).find_root()
    obj = root.obj if isinstance(root.obj, dict) else {}
    return obj, obj.get("console")


def console(ctx: click.Context | None = None) -> Any:
    """The Rich console for output; tests inject one as ``obj={"console": …}``."""
    from rich.console import Console

    obj, found = _injected(ctx)
    if found is None:
        found = Console(highlight=False, soft_wrap=False)
        obj["console"] = found
    return found


def output_file(ctx: click.Context | None = None) -> IO[str]:
    """Where plain text and JSON go: the console's file when one was injected (or made),
    else standard output, without loading Rich (about 14 ms) for text it would not style."""
    _, found = _injected(ctx)
    return found.file if found is not None else sys.stdout


def print_json(value: Any) -> None:
    """Indented on a terminal; one line when piped or redirected, for programs (written
    by the C encoder: ``indent`` would take json's pure-Python one)."""
    out = output_file()
    indent = 2 if _is_terminal(out) else None
    out.write(json.dumps(value, indent=indent, default=str) + "\n")


def _is_terminal(out: IO[str]) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):  # no such method, or a closed file
        return False


store_option = click.option(
    "--store", "store_url", default=None, help="Store URL (default: SPANWISE_STORE or ~/.spanwise)."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


F = TypeVar("F", bound=Callable[..., Any])


def params_option(help: str) -> Callable[[F], F]:
    """``--param/-p KEY=VALUE``, repeatable: workflow inputs."""
    return click.option("--param", "-p", "params", multiple=True, metavar="KEY=VALUE", help=help)


def output_format_option(help: str) -> Callable[[F], F]:
    """``--output-format text|json``."""
    return click.option(
        "--output-format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help=help,
    )


def open_store(store_url: str | None, *, readonly: bool = True) -> Any:
    """The store the user means: --store, SPANWISE_STORE, config.toml, or the default."""
    from spanwise._settings import resolve
    from spanwise.store import open_database

    settings = resolve("off", store=store_url)
    return open_database(settings.store or "", readonly=readonly)


_SINCE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(value: str | None, *, now_ns: int | None = None) -> int | None:
    """``30m``, ``1h``, ``7d``, ``2w`` or an ISO date → epoch ns; CliError otherwise."""
    if not value:
        return None
    now = now_ns if now_ns is not None else time.time_ns()
    match = _SINCE.match(value.strip().lower())
    if match:
        return now - int(float(match.group(1)) * _UNITS[match.group(2)] * 1e9)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CliError(
            f"invalid --since {value!r}: expected a duration like 30m, 1h, 7d "
            "or a date like 2026-11-01"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1e9)


def fmt_duration_ns(ns: int | float | None) -> str:
    if ns is None:
        return "-"
    ms = ns / 1e6
    if ms < 1:
        return f"{ns / 1e3:.0f}µs"
    if ms < 1000:
        return f"{ms:.1f}ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f}s"
    return f"{ms / 60_000:.1f}min"


def fmt_cost(cost: float | None, unpriced: int = 0) -> str:
    """``$0.0123``; ``unpriced`` when nothing is priced; ``$0.0123+`` when some calls are not."""
    if cost is None or (unpriced and not cost):
        return "unpriced" if unpriced or cost is None else "$0"
    if cost < 0.01:
        text = f"${cost:.6f}"
    elif cost < 1:
        text = f"${cost:.4f}"
    else:
        text = f"${cost:,.2f}"
    return text + ("+" if unpriced else "")


def fmt_time_ns(ns: int | None) -> str:
    if not ns:
        return "-"
    return datetime.fromtimestamp(ns / 1e9).strftime("%m-%d %H:%M:%S")


def fmt_int(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"
