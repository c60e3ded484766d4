"""Helpers for the debugging-toolkit tests: trace mode into a real SQLite store under the
test's SPANWISE_HOME, reading it back, and running the CLI through an injected console."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

from rich.console import Console

import spanwise
from spanwise.store import open_database


class Traced:
    """spanwise in trace mode for one test, with the store it writes."""

    def __init__(self, home: Path) -> None:
        self.home = home

    @property
    def url(self) -> str:
        return f"sqlite://{(self.home / 'spanwise.db').resolve()}"

    def flush(self) -> None:
        assert spanwise.flush(30)

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        self.flush()
        db = open_database(self.url, readonly=True)
        try:
            return db.query_dicts(sql, params)
        finally:
            db.close()

    def lock_events(self, lock: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM lock_events"
        params: tuple[Any, ...] = ()
        if lock:
            sql += " WHERE lock_name = ?"
            params = (lock,)
        rows = self.rows(sql + " ORDER BY time_ns, id", params)
        for r in rows:
            r["details"] = json.loads(r["details"]) if r["details"] else None
        return rows


def run_cli(*args: str) -> str:
    """Run ``spanwise ARGS`` with an injected console; return what the user sees."""
    from spanwise.cli import cli

    out = StringIO()
    cli.main(list(args), obj={"console": Console(file=out, width=100)}, standalone_mode=False)
    return out.getvalue()


def run_cli_json(*args: str) -> Any:
    return json.loads(run_cli(*args, "--json"))
