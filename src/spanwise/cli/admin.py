"""``spanwise status`` and ``spanwise mode on|off|metrics|status``."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from spanwise._export import EXPORTER_DROP_REASONS
from spanwise.cli._common import CliError, console, fmt_int, json_option, print_json, store_option


def _drops(db: Any, url: str) -> dict[str, Any]:
    """Pipeline counters recorded by programs (in the store, or its fallback file)."""
    from spanwise.store._exporter import stats_fallback_path

    totals = {"processes": 0, "exported": 0, "queue_full": 0, "shutdown": 0, "write_error": 0}
    if db is not None:
        for row in db.query_dicts(
            "SELECT COUNT(*) AS processes, COALESCE(SUM(exported), 0) AS exported, "
            "COALESCE(SUM(queue_full), 0) AS queue_full, COALESCE(SUM(shutdown), 0) AS shutdown, "
            "COALESCE(SUM(write_error), 0) AS write_error FROM pipeline_stats"
        ):
            totals = {k: int(v) for k, v in row.items()}
    path = stats_fallback_path(url)
    if path.exists():
        latest: dict[tuple[Any, ...], dict[str, Any]] = {}
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    item = json.loads(line)
                    latest[(item["host"], item["pid"], item["started_ns"])] = item
                except (ValueError, KeyError, TypeError):
                    continue
        for item in latest.values():
            totals["processes"] += 1
            for key in ("exported", "queue_full", "shutdown", "write_error"):
                totals[key] += int(item.get(key, 0))
    return totals


@click.command("status")
@json_option
@store_option
def status_cmd(as_json: bool, store_url: str | None) -> None:
    """Mode, store, record counts and dropped records by reason."""
    from spanwise._settings import resolve
    from spanwise.store import open_database
    from spanwise.store._dashboard_queries import exporter_drops
    from spanwise.store._database import StoreError
    from spanwise.store._queries import store_counts

    settings = resolve(store=store_url)
    url = settings.store or ""
    info: dict[str, Any] = {
        "mode": settings.mode,
        "mode_source": settings.mode_source,
        "home": str(settings.home),
        "store": url,
        "store_error": None,
        "counts": None,
        "store_bytes": None,
    }
    db = None
    try:
        db = open_database(url, readonly=True)
        info["counts"] = store_counts(db)
        size = getattr(db, "size_bytes", None)
        info["store_bytes"] = size() if size else None
    except StoreError as exc:
        info["store_error"] = str(exc)
    info["drops"] = _drops(db, url)
    info["exporters"] = exporter_drops(db) if db is not None else {}
    if as_json:
        print_json(info)
        return
    out = console()
    out.print(f"mode      {info['mode']} [dim](from {info['mode_source']})[/]")
    out.print(f"home      {info['home']}")
    out.print(f"store     {url}")
    if info["store_error"]:
        out.print(f"[yellow]          {info['store_error']}[/]")
    if info["counts"]:
        c = info["counts"]
        size_mb = (info["store_bytes"] or 0) / 1e6
        out.print(
            f"records   {fmt_int(c['traces'])} traces, {fmt_int(c['spans'])} spans, "
            f"{fmt_int(c['llm_calls'])} LLM calls ({size_mb:.1f} MB)"
        )
    d = info["drops"]
    out.print(
        f"dropped   queue_full {d['queue_full']}, shutdown {d['shutdown']}, "
        f"write_error {d['write_error']} [dim](over {d['processes']} recorded process runs)[/]"
    )
    for name, e in info["exporters"].items():
        dropped = ", ".join(f"{reason} {e[reason]}" for reason in EXPORTER_DROP_REASONS)
        out.print(
            f"{name:<9} sent {fmt_int(e['sent'])}, dropped {dropped} "
            f"[dim](over {e['processes']} process runs)[/]"
        )


@click.command("mode")
@click.argument("action", type=click.Choice(["on", "off", "metrics", "status"]), default="status")
@click.option("--home", default=None, help="SPANWISE_HOME to change (default ~/.spanwise).")
def mode_cmd(action: str, home: str | None) -> None:
    """Persist the default mode (the "dev mode" switch) in SPANWISE_HOME/config.toml."""
    from spanwise._settings import home_dir, parse_mode, resolve, write_persisted_mode

    home_path = home_dir(home)
    out = console()
    if action != "status":
        mode = parse_mode(action)
        try:
            path = write_persisted_mode(home_path, mode)
        except OSError as exc:
            raise CliError(f"cannot write {home_path / 'config.toml'}: {exc.strerror}") from None
        out.print(f"spanwise mode is now {mode} (saved in {path})")
    settings = resolve(home=home_path)
    note = ""
    if settings.mode_source == "SPANWISE_MODE":
        env_mode = os.environ.get("SPANWISE_MODE")
        note = f" [yellow](SPANWISE_MODE={env_mode} overrides the saved mode)[/]"
    if action == "status" or note:
        out.print(f"mode {settings.mode} (from {settings.mode_source}){note}")


def register(group: click.Group) -> None:
    group.add_command(status_cmd)
    group.add_command(mode_cmd)
