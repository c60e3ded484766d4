"""``spanwise serve``: the dashboard, its JSON API and OTLP/HTTP trace ingest.

Needs ``pip install 'spanwise[server]'`` (FastAPI, uvicorn, Jinja2).
"""

from __future__ import annotations

from spanwise.server.app import ServerConfig, create_app

__all__ = ["ServerConfig", "create_app"]
