"""``spanwise prices check`` and ``spanwise reprice``, as a user sees them."""

from __future__ import annotations

import json
import sqlite3
from io import StringIO
from pathlib import Path

import pytest
from click.testing import CliRunner
from published_prices import cost
from rich.console import Console

import spanwise
from spanwise.cli import cli


def run(*args: str) -> str:
    out = StringIO()
    cli.main(list(args), standalone_mode=False, obj={"console": Console(file=out, width=140)})
    return out.getvalue()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("SPANWISE_HOME", str(home))
    spanwise.configure("trace")
    with spanwise.span("nightly batch"):
        for _ in range(2):
            spanwise.record_llm_call(
                provider="openai", model="gpt-4o-mini", input_tokens=1000, output_tokens=500
            )
        spanwise.record_llm_call(
            provider="acme", model="acme-finetune-7", input_tokens=2000, output_tokens=100
        )
        spanwise.record_llm_call(
            provider="openai", model="gpt-4o", input_tokens=None, output_tokens=None, streamed=True
        )
    spanwise.shutdown()
    return home


def traces(home: Path) -> list[tuple[float, int]]:
    con = sqlite3.connect(home / "spanwise.db")
    try:
        return [tuple(r) for r in con.execute("SELECT cost_usd, unpriced_calls FROM traces")]
    finally:
        con.close()


def test_prices_check_lists_models_without_a_price_and_why(home):
    text = run("prices", "check")
    assert "2 model(s) without a price" in text
    assert "acme-finetune-7" in text
    assert 'no price known: add [prices."MODEL"] to config.toml' in text
    assert "gpt-4o " in text and "no usage reported (tokens unknown)" in text
    assert "gpt-4o-mini" not in text.split("priced by")[0]
    assert "priced by genai-prices" in text and "2 call(s)" in text


def test_prices_check_json(home):
    data = json.loads(run("prices", "check", "--json"))
    models = {m["model"]: m for m in data["unpriced_models"]}
    assert set(models) == {"acme-finetune-7", "gpt-4o"}
    assert models["acme-finetune-7"]["calls"] == 1


def write_override(home: Path) -> None:
    (home / "config.toml").write_text(
        '[prices."acme-finetune-7"]\ninput_mtok = 4.0\noutput_mtok = 8.0\n'
        '[prices."gpt-4o-mini"]\ninput_mtok = 0.30\noutput_mtok = 1.20\n'
    )


def test_an_override_makes_check_suggest_reprice(home):
    write_override(home)
    text = run("prices", "check")
    assert "priced now by override config.toml: run spanwise reprice" in text


def test_reprice_dry_run_shows_the_difference_and_writes_nothing(home):
    before = traces(home)
    write_override(home)
    text = run("reprice", "--since", "30d", "--dry-run")
    mini_old = 2 * cost("gpt-4o-mini", uncached=1000, cache_read=0, cache_write=0, output=500)
    assert "dry run: 3 of 4 calls would change; nothing written" in text
    lines = {line.split()[0]: line for line in text.splitlines() if line.strip()}
    assert "acme-finetune-7" in lines and "unpriced" in lines["acme-finetune-7"]
    assert f"+${(2000 * 4.0 + 100 * 8.0) / 1e6:.6f}" in lines["acme-finetune-7"]
    assert f"+${mini_old:.6f}" in lines["gpt-4o-mini"]  # the override doubles the rates
    assert traces(home) == before


def test_reprice_writes_costs_sources_and_trace_totals(home):
    write_override(home)
    data = json.loads(run("reprice", "--json"))
    assert (data["calls"], data["changed"], data["dry_run"]) == (4, 3, False)
    con = sqlite3.connect(home / "spanwise.db")
    rows = dict(
        con.execute(
            "SELECT request_model, cost_usd FROM llm_calls WHERE price_source = 'override'"
        ).fetchall()
    )
    con.close()
    assert rows["acme-finetune-7"] == pytest.approx((2000 * 4.0 + 100 * 8.0) / 1e6)
    assert rows["gpt-4o-mini"] == pytest.approx((1000 * 0.30 + 500 * 1.20) / 1e6)
    ((total, unpriced),) = traces(home)
    assert total == pytest.approx((2000 * 4.0 + 100 * 8.0 + 2 * (300 + 600)) / 1e6)
    assert unpriced == 1  # the call without usage stays unpriced, never $0
    assert "0 of 4 calls updated" in run("reprice")  # already current


def test_a_bad_since_is_one_line_and_exit_1(home):
    result = CliRunner().invoke(
        cli, ["reprice", "--since", "last tuesday"], obj={"console": Console(file=StringIO())}
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: invalid --since 'last tuesday': expected a duration like 30m, 1h, 7d or a "
        "date like 2026-11-01"
    ]
