"""Costs checked against prices computed by hand from the providers' published rates
(USD per million tokens), with OpenAI-style (inclusive) and Anthropic-style (additive)
cached tokens, provider prefixes, overrides, and the unpriced rule."""

from __future__ import annotations

import pytest

import spanwise


def recorded_call(recorder, **kwargs):
    spanwise.record_llm_call(**kwargs)
    spanwise.flush()
    (span,) = [s for s in recorder.spans if s.kind == "llm"]
    return span.llm


def test_openai_cached_tokens_are_inside_input(spanwise_recorder):
    # gpt-4o: $2.50 input, $1.25 cached input, $10.00 output per 1M tokens.
    call = recorded_call(
        spanwise_recorder,
        provider="openai",
        model="gpt-4o",
        input_tokens=10_000,
        cache_read_tokens=4_000,
        output_tokens=1_000,
    )
    expected = (6_000 * 2.50 + 4_000 * 1.25 + 1_000 * 10.00) / 1e6
    assert call.input_tokens == 10_000
    assert call.cost_usd == pytest.approx(expected)  # 0.03
    assert call.pricing_available is True
    assert call.price_source == "genai-prices"
    assert call.price_version


def test_anthropic_cached_tokens_are_added_to_input(spanwise_recorder):
    # Anthropic's API reports input_tokens=1_000 *plus* 3_000 cache reads and 2_000 cache
    # writes. claude-sonnet-4: $3 input, $0.30 cache read, $3.75 cache write, $15 output.
    call = recorded_call(
        spanwise_recorder,
        provider="anthropic",
        model="claude-sonnet-4-0",
        input_tokens=1_000,
        cache_read_tokens=3_000,
        cache_write_tokens=2_000,
        output_tokens=500,
    )
    assert call.input_tokens == 6_000  # stored inclusive, as OpenTelemetry defines it
    expected = (1_000 * 3.00 + 3_000 * 0.30 + 2_000 * 3.75 + 500 * 15.00) / 1e6
    assert call.cost_usd == pytest.approx(expected)  # 0.0189


def test_inclusive_convention_can_be_stated_explicitly(spanwise_recorder):
    call = recorded_call(
        spanwise_recorder,
        provider="anthropic",
        model="claude-3-5-haiku-latest",
        input_tokens=6_000,
        cache_read_tokens=3_000,
        cache_write_tokens=2_000,
        output_tokens=500,
        usage_convention="inclusive",
    )
    # claude-3.5-haiku: $0.80 input, $0.08 cache read, $1.00 cache write, $4.00 output.
    expected = (1_000 * 0.80 + 3_000 * 0.08 + 2_000 * 1.00 + 500 * 4.00) / 1e6
    assert call.cost_usd == pytest.approx(expected)


def test_provider_prefix_is_normalized(spanwise_recorder):
    call = recorded_call(
        spanwise_recorder,
        provider="litellm",
        model="anthropic/claude-sonnet-4-0",
        input_tokens=1_000_000,
        output_tokens=0,
        usage_convention="inclusive",
    )
    assert call.cost_usd == pytest.approx(3.00)


def test_unknown_model_is_unpriced_never_zero(spanwise_recorder):
    call = recorded_call(
        spanwise_recorder,
        provider="acme",
        model="acme-7b-private",
        input_tokens=100,
        output_tokens=10,
    )
    assert call.cost_usd is None
    assert call.pricing_available is False
    summary = spanwise.summary()
    assert summary["cost_usd"] is None
    assert summary["unavailable_models"] == ["acme-7b-private"]
    assert summary["partial_cost_usd"] == 0


def test_unknown_usage_is_unpriced_and_counted(spanwise_recorder):
    call = recorded_call(spanwise_recorder, provider="openai", model="gpt-4o", streamed=True)
    assert call.input_tokens is None and call.output_tokens is None
    assert call.cost_usd is None
    assert spanwise.summary()["llm_calls_without_usage"] == 1


def test_every_call_accumulates(spanwise_recorder):
    for _ in range(5):
        spanwise.record_llm_call(
            provider="openai", model="gpt-4o-mini", input_tokens=2_000, output_tokens=300
        )
    s = spanwise.summary()
    # gpt-4o-mini: $0.15 input, $0.60 output.
    assert s["llm_calls"] == 5
    assert s["tokens"]["input"] == 10_000
    assert s["cost_usd"] == pytest.approx(5 * (2_000 * 0.15 + 300 * 0.60) / 1e6)


def test_user_price_override_from_config_toml(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        '[prices."acme-7b-private"]\ninput_mtok = 1.0\noutput_mtok = 2.0\ncache_read_mtok = 0.5\n'
    )
    from spanwise.testing import InMemoryExporter

    mem = InMemoryExporter()
    spanwise.configure("trace", home=home, exporters=[mem])
    spanwise.record_llm_call(
        provider="acme",
        model="acme-7b-private",
        input_tokens=1_000,
        cache_read_tokens=400,
        output_tokens=100,
    )
    spanwise.flush()
    call = mem.spans[0].llm
    assert call.cost_usd == pytest.approx((600 * 1.0 + 400 * 0.5 + 100 * 2.0) / 1e6)
    assert call.price_source == "override"


def test_bad_override_is_a_one_line_config_error(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[prices."m"]\ninput_per_token = 1\n')
    with pytest.raises(spanwise.ConfigError, match="price override for 'm'"):
        spanwise.configure("trace", home=home)


def test_negative_tokens_are_rejected(spanwise_recorder):
    with pytest.raises(ValueError, match="input_tokens must be a non-negative int"):
        spanwise.record_llm_call(
            provider="openai", model="gpt-4o", input_tokens=-1, output_tokens=1
        )


def test_content_is_kept_only_when_capture_is_on(tmp_path):
    from spanwise.testing import InMemoryExporter

    mem = InMemoryExporter()
    spanwise.configure("trace", home=tmp_path, exporters=[mem])
    spanwise.record_llm_call(provider="openai", model="gpt-4o", prompt="hi", response="there")
    spanwise.configure("trace", home=tmp_path, exporters=[mem], capture_content=True)
    spanwise.record_llm_call(provider="openai", model="gpt-4o", prompt="hi", response="there")
    spanwise.flush()
    first, second = (s.llm for s in mem.spans)
    assert (first.prompt, first.response) == (None, None)
    assert (second.prompt, second.response) == ("hi", "there")
