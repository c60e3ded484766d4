"""The dashboard and OTLP ingest server: ``create_app(ServerConfig(...))``.

One process holds one writer connection (fed by the ingest queue) and a few read-only
connections for pages and the JSON API. The store is created and migrated at start, so
two servers (or a server and programs) can share a PostgreSQL database.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from spanwise.server._otlp_body import DEFAULT_MAX_BODY_BYTES
from spanwise.store._database import StoreError, open_database
from spanwise.store._queries import TraceNotFound

DEFAULT_PORT = 7842


@dataclass(frozen=True)
class ServerConfig:
    store_url: str
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    token: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    readers: int = 4
    queue_bytes: int = 128 * 1024 * 1024
    keep_content: bool = True


@dataclass
class ServerState:
    config: ServerConfig
    writer: Any
    pool: Any
    templates: Any
    static: dict[str, Any]


def ingest_pricer(overrides: dict[str, Any]) -> Any:
    """Price ingested LLM calls like local ones; when no price is known here but the
    sender priced the call (``spanwise.cost_usd``), keep the sender's figure."""
    from spanwise._pricing import Pricer

    prices = Pricer(overrides)

    def price(span: Any) -> None:
        call = span.llm
        if call is None or call.priced:
            return
        result = prices.price(call)
        call.cost_usd, call.pricing_available = result.cost_usd, result.available
        call.price_source, call.price_version = result.source, result.version
        call.priced = True
        if call.cost_usd is None:
            sent = span.attributes.get("spanwise.cost_usd")
            if (
                isinstance(sent, (int, float))
                and not isinstance(sent, bool)
                and (math.isfinite(sent) and sent >= 0)
            ):
                call.cost_usd, call.pricing_available = float(sent), True
                source = span.attributes.get("spanwise.price_source")
                call.price_source = f"sender:{source}" if isinstance(source, str) else "sender"

    return price


def create_app(config: ServerConfig) -> FastAPI:
    """Build the app; raises ValueError for an unsafe bind and StoreError for a store
    that cannot be opened."""
    from spanwise import __version__
    from spanwise._settings import resolve
    from spanwise.server import _api, _ingest, _pages
    from spanwise.server._assets import load_static, make_environment
    from spanwise.server._db_pool import ReadPool
    from spanwise.server._ingest_writer import IngestWriter
    from spanwise.server._security import Guard, allowed_hosts, check_bind

    check_bind(config.host, config.token)
    settings = resolve("off", store=config.store_url)
    writer_db = open_database(config.store_url)  # creates and migrates the store
    writer = IngestWriter(
        lambda: writer_db,
        ingest_pricer(settings.price_overrides),
        capacity_bytes=config.queue_bytes,
    )
    static = load_static()
    state = ServerState(
        config=config,
        writer=writer,
        pool=ReadPool(config.store_url, config.readers),
        templates=make_environment(static),
        static=static,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        writer.close()
        state.pool.close()

    app = FastAPI(
        title="spanwise",
        version=__version__,
        description="Dashboard JSON API and OTLP/HTTP trace ingest of a spanwise store.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.spanwise = state
    app.include_router(_ingest.router)
    app.include_router(_api.router)
    app.include_router(_pages.router)
    _add_error_handlers(app)
    app.add_middleware(
        Guard,
        token=config.token,
        hosts=allowed_hosts(config.host, config.token, config.allowed_hosts),
    )
    return app


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/v1/"))


def _add_error_handlers(app: FastAPI) -> None:
    def problem(request: Request, status: int, message: str) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": message}, status_code=status)
        state: ServerState = request.app.state.spanwise
        html = state.templates.get_template("error.html").render(
            page="error",
            status=status,
            message=message,
            token_required=state.config.token is not None,
        )
        return HTMLResponse(html, status_code=status)

    @app.exception_handler(TraceNotFound)
    async def not_found(request: Request, exc: TraceNotFound) -> Response:
        return problem(request, 404, str(exc.args[0] if exc.args else exc))

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> Response:
        return problem(request, 503, str(exc).splitlines()[0])
