"""The store: one schema (SQLite by default, PostgreSQL for a team server), its
migrations, the exporter that writes records into it and the queries the views use."""

from spanwise.store._database import Database, open_database

__all__ = ["Database", "open_database"]
