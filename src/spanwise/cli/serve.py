"""``spanwise serve``: the dashboard and OTLP/HTTP ingest on one port."""

from __future__ import annotations

import os

import click

from spanwise.cli._common import CliError, console, store_option


@click.command("serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but loopback needs SPANWISE_TOKEN.",
)
@click.option("--port", default=7842, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    help="Extra Host header value to answer to (DNS-rebinding allowlist; '*' for any).",
)
@click.option(
    "--drop-content",
    is_flag=True,
    help="Do not keep prompts and responses that OTLP senders include.",
)
@store_option
def serve_cmd(
    host: str, port: int, allowed_hosts: tuple[str, ...], drop_content: bool, store_url: str | None
) -> None:
    """Dashboard, JSON API (/api, /openapi.json) and OTLP/HTTP ingest (/v1/traces).

    With SPANWISE_TOKEN set, every route needs it (Authorization: Bearer, or log in
    once in the browser)."""
    try:
        import uvicorn

        from spanwise.server import ServerConfig, create_app
    except ImportError:
        raise CliError("the dashboard needs: pip install 'spanwise[server]'") from None
    from spanwise._settings import resolve

    token = os.environ.get("SPANWISE_TOKEN") or None
    extra = tuple(allowed_hosts) + tuple(
        h for h in os.environ.get("SPANWISE_ALLOWED_HOSTS", "").split(",") if h.strip()
    )
    settings = resolve("off", store=store_url)
    config = ServerConfig(
        store_url=settings.store or "",
        host=host,
        port=port,
        token=token,
        allowed_hosts=extra,
        keep_content=not drop_content,
    )
    try:
        app = create_app(config)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    out = console()
    shown = f"[{host}]" if ":" in host else host
    out.print(
        f"spanwise dashboard on http://{shown}:{port}/  (OTLP/HTTP: http://{shown}:{port}/v1/traces)"
    )
    from spanwise.store._postgres import redact_url

    out.print(f"store {redact_url(config.store_url)}" + ("  · token required" if token else ""))
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        server_header=False,
        proxy_headers=False,
    )


def register(group: click.Group) -> None:
    group.add_command(serve_cmd)
