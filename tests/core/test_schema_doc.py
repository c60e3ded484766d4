"""docs/schema.md names every table and column the migrations create."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import spanwise

DOC = Path(__file__).resolve().parents[2] / "docs" / "schema.md"


def test_schema_doc_names_every_table_and_column(tmp_path):
    spanwise.configure("trace", home=tmp_path)
    with spanwise.span("x"):
        pass
    spanwise.shutdown()
    conn = sqlite3.connect(tmp_path / "spanwise.db")
    text = DOC.read_text()
    sections = dict(re.findall(r"^### `(\w+)`\n(.*?)(?=^### |\Z)", text, re.S | re.M))
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    missing = []
    for table in tables:
        if table.startswith("sqlite_"):
            continue
        body = sections.get(table)
        if body is None:
            missing.append(table)
            continue
        documented = set(re.findall(r"`(\w+)`", body))
        for column in (r[1] for r in conn.execute(f"PRAGMA table_info({table})")):
            if column not in documented:
                missing.append(f"{table}.{column}")
    assert missing == []
