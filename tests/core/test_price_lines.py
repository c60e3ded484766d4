"""Prices on fitted lines equal genai-prices' own calculation, and the line cache lets a
later process price known models without importing the price tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spanwise._llm_record import LlmCall
from spanwise._pricing import PriceOverride, Pricer

MODELS = [
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("anthropic", "claude-sonnet-4-0"),
    ("google", "gemini-2.5-pro"),
    ("google", "gemini-2.0-flash"),
    ("deepseek", "deepseek-chat"),  # cheaper off-peak: never on a line
    ("acme", "nobody-knows"),
    ("openai", "my-finetune"),
]
PRICER = Pricer({"my-finetune": PriceOverride(input_mtok=1.0, output_mtok=2.0)})


@settings(max_examples=300, deadline=None)
@given(
    model=st.sampled_from(MODELS),
    inp=st.integers(0, 2_000_000),
    out=st.integers(0, 100_000),
    read_share=st.floats(0, 1),
    write_share=st.floats(0, 1),
)
def test_line_prices_equal_the_exact_calculation(
    model: tuple[str, str], inp: int, out: int, read_share: float, write_share: float
) -> None:
    read = int(inp * read_share)
    write = int((inp - read) * write_share) if model[0] == "anthropic" else 0
    call = LlmCall(
        model[0],
        model[1],
        input_tokens=inp,
        output_tokens=out,
        cache_read_tokens=read or None,
        cache_write_tokens=write or None,
    )
    exact, fast = PRICER.exact_price(call), PRICER.price(call)
    assert (fast.available, fast.source, fast.version) == (
        exact.available,
        exact.source,
        exact.version,
    )
    if exact.cost_usd is None:
        assert fast.cost_usd is None
    else:
        assert fast.cost_usd == pytest.approx(exact.cost_usd, rel=1e-9, abs=1e-12)


def test_unknown_usage_is_unpriced() -> None:
    call = LlmCall("openai", "gpt-4o", input_tokens=None, output_tokens=5)
    assert PRICER.price(call).cost_usd is None


CHILD = textwrap.dedent(
    """
    import json, sys
    from spanwise._llm_record import LlmCall
    from spanwise._pricing import Pricer

    pricer = Pricer(cache_path=sys.argv[1])
    out = []
    for provider, model in (("openai", "gpt-4o"), ("local", "my-own-model")):
        price = pricer.price(LlmCall(provider, model, input_tokens=1000, output_tokens=100))
        out.append([price.cost_usd, price.available, price.source])
    print(json.dumps({"prices": out, "imported": "genai_prices" in sys.modules}))
    """
)


def _run(cache: Path) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(cache)], capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def test_a_second_process_prices_cached_models_without_the_tables(tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "price-lines.json"
    first = _run(cache)
    # gpt-4o: $2.50 per million input tokens and $10 per million output tokens.
    assert first["prices"] == [[pytest.approx(0.0035), True, "genai-prices"], [None, False, None]]
    assert first["imported"] is True
    assert cache.exists()

    second = _run(cache)
    assert second["prices"] == first["prices"]
    assert second["imported"] is False  # both answers, the unpriced one too, came from the cache


def test_a_stale_or_broken_cache_is_refitted(tmp_path: Path) -> None:
    cache = tmp_path / "price-lines.json"
    _run(cache)
    body = json.loads(cache.read_text())
    body["day"] = "2000-01-01"
    cache.write_text(json.dumps(body))
    assert _run(cache)["imported"] is True  # another day: prices may have changed

    cache.write_text("{not json")
    result = _run(cache)
    assert result["imported"] is True
    assert result["prices"][0][0] == pytest.approx(0.0035)  # type: ignore[index]


def test_an_override_wins_over_a_cached_line(tmp_path: Path) -> None:
    cache = tmp_path / "price-lines.json"
    call = LlmCall("openai", "gpt-4o", input_tokens=1_000_000, output_tokens=0)
    assert Pricer(cache_path=str(cache)).price(call).cost_usd == pytest.approx(2.5)
    overridden = Pricer({"gpt-4o": PriceOverride(input_mtok=1.0)}, cache_path=str(cache))
    price = overridden.price(call)
    assert (price.cost_usd, price.source) == (pytest.approx(1.0), "override")


def test_an_unwritable_cache_only_costs_time(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    pricer = Pricer(cache_path=str(blocker / "cache" / "price-lines.json"))
    call = LlmCall("openai", "gpt-4o", input_tokens=1000, output_tokens=100)
    assert pricer.price(call).cost_usd == pytest.approx(0.0035)
    assert not os.path.exists(blocker / "cache")


TRACED = textwrap.dedent(
    """
    import json, sys
    import spanwise

    spanwise.configure("trace", home=sys.argv[1])
    seen = {"after configure": "genai_prices" in sys.modules}
    spanwise.record_llm_call(provider="local", model="echo")  # no usage: never priced
    seen["after a call without usage"] = "genai_prices" in sys.modules
    spanwise.record_llm_call(provider="openai", model="gpt-4o", input_tokens=10, output_tokens=1)
    seen["after gpt-4o"] = "genai_prices" in sys.modules
    spanwise.record_llm_call(provider="openai", model=sys.argv[2], input_tokens=10, output_tokens=1)
    seen["after a new model"] = "genai_prices" in sys.modules  # imported here, not on the writer
    spanwise.shutdown()
    print(json.dumps(seen))
    """
)


def test_the_tables_are_imported_in_the_programs_thread_only_for_a_new_model(
    tmp_path: Path,
) -> None:
    def run(new_model: str) -> dict[str, bool]:
        proc = subprocess.run(
            [sys.executable, "-c", TRACED, str(tmp_path), new_model],
            capture_output=True,
            text=True,
            check=True,
        )
        result: dict[str, bool] = json.loads(proc.stdout)
        return result

    first = run("gpt-4o-mini")  # no cache yet: the first call with usage imports the tables
    assert first == {
        "after configure": False,
        "after a call without usage": False,
        "after gpt-4o": True,
        "after a new model": True,
    }
    second = run("gpt-4.1")  # gpt-4o and gpt-4o-mini are cached now
    assert second == {
        "after configure": False,
        "after a call without usage": False,
        "after gpt-4o": False,
        "after a new model": True,
    }
    lines = json.loads((tmp_path / "cache" / "price-lines.json").read_text())["lines"]
    assert {key.split("\x1f")[1] for key in lines} == {"gpt-4o", "gpt-4o-mini", "gpt-4.1"}


def test_a_price_that_changes_with_the_time_of_day_is_never_cached(tmp_path: Path) -> None:
    cache = tmp_path / "price-lines.json"
    pricer = Pricer(cache_path=str(cache))
    for provider, model in (("openai", "gpt-4o"), ("deepseek", "deepseek-chat")):
        call = LlmCall(provider, model, input_tokens=1000, output_tokens=100)
        assert pricer.price(call).cost_usd == pytest.approx(pricer.exact_price(call).cost_usd)
    models = {key.split("\x1f")[1] for key in json.loads(cache.read_text())["lines"]}
    assert models == {"gpt-4o"}  # DeepSeek's off-peak price would be kept all day


def test_whether_the_cache_covers_a_model_follows_the_cache_it_reads(tmp_path: Path) -> None:
    pricer = Pricer(cache_path=str(tmp_path / "a.json"))
    assert not pricer.covers("openai", "gpt-4o")  # an empty cache: the tables are needed
    pricer.price(LlmCall("openai", "gpt-4o", input_tokens=1000, output_tokens=100))
    assert pricer.covers("openai", "gpt-4o")  # its line is cached now
    assert pricer.covers("openai", "gpt-4o")  # and asked again, the same answer
    assert not pricer.covers("openai", "gpt-4o-mini")
    pricer.use_cache(str(tmp_path / "b.json"))  # another cache, without that line
    assert not pricer.covers("openai", "gpt-4o")
