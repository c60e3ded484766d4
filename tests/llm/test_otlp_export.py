"""The OTLP/HTTP sink, verified by decoding what a local receiver got."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from otlp_receiver import OtlpReceiver, Reply, attributes
from published_prices import cost

import spanwise
from spanwise._setup import nudge
from spanwise._span import Span
from spanwise.cli import cli
from spanwise.otel._exporter import OtlpExporter, retry_after_seconds, traces_url


def spans(n: int) -> list[Span]:
    out = []
    for i in range(n):
        s = Span(f"step {i}", {"i": i}, "node")
        s.trace_id, s.span_id, s.parent_id = 7, i + 1, 0
        s.start_ns, s.end_ns = 1_000, 2_000
        out.append(s)
    return out


def test_spans_leave_with_genai_names_beside_the_store(tmp_path):
    with OtlpReceiver() as receiver:
        spanwise.configure("trace", home=tmp_path, otlp_endpoint=receiver.url)
        with spanwise.span("answer question", kind="agent") as root:
            spanwise.record_llm_call(
                provider="anthropic",
                model="claude-haiku-4-5",
                input_tokens=100,
                cache_read_tokens=2000,
                cache_write_tokens=500,
                output_tokens=250,
                streamed=True,
                time_to_first_token_ms=120.0,
                finish_reasons=["end_turn"],
            )
        spanwise.shutdown()
    assert receiver.requests[0]["path"] == "/v1/traces"
    assert receiver.requests[0]["headers"]["content-type"] == "application/x-protobuf"
    request = receiver.decoded()
    resource = attributes(request.resource_spans[0].resource.attributes)
    assert resource["service.name"] == "spanwise"
    by_name = {s.name: s for s in receiver.accepted_spans()}
    chat, agent = by_name["chat claude-haiku-4-5"], by_name["answer question"]
    assert chat.kind == 3 and agent.kind == 1  # CLIENT, INTERNAL
    assert chat.trace_id == root.trace_id.to_bytes(16, "big")
    assert chat.parent_span_id == agent.span_id == root.span_id.to_bytes(8, "big")
    attrs = attributes(chat.attributes)
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["gen_ai.request.model"] == "claude-haiku-4-5"
    assert attrs["gen_ai.usage.input_tokens"] == 2600  # inclusive, as the conventions say
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 2000
    assert attrs["gen_ai.usage.cache_creation.input_tokens"] == 500
    assert attrs["gen_ai.usage.output_tokens"] == 250
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.response.time_to_first_chunk"] == pytest.approx(0.12)
    assert attrs["gen_ai.response.finish_reasons"] == ["end_turn"]
    assert attrs["spanwise.cost_usd"] == pytest.approx(
        cost("claude-haiku-4-5", uncached=100, cache_read=2000, cache_write=500, output=250)
    )
    assert attrs["spanwise.pricing_available"] is True
    assert attrs["spanwise.price_source"] == "genai-prices"
    con = sqlite3.connect(tmp_path / "spanwise.db")
    assert con.execute("SELECT COUNT(*) FROM llm_calls").fetchone()[0] == 1
    con.close()


def test_the_endpoint_comes_from_the_environment(tmp_path, monkeypatch):
    with OtlpReceiver() as receiver:
        monkeypatch.setenv("SPANWISE_OTLP_ENDPOINT", receiver.url + "/v1/traces")
        monkeypatch.setenv("SPANWISE_OTLP_HEADERS", "authorization=Bearer%20abc,x-team=llm")
        spanwise.configure("trace", home=tmp_path)
        with spanwise.span("work"):
            pass
        spanwise.shutdown()
    assert [s.name for s in receiver.accepted_spans()] == ["work"]
    headers = receiver.requests[0]["headers"]
    assert (headers["authorization"], headers["x-team"]) == ("Bearer abc", "llm")


def test_error_spans_carry_status_and_error_type(tmp_path):
    with OtlpReceiver() as receiver:
        spanwise.configure("trace", home=tmp_path, otlp_endpoint=receiver.url)
        with pytest.raises(KeyError), spanwise.span("lookup"):
            raise KeyError("missing")
        spanwise.shutdown()
    (span,) = receiver.accepted_spans()
    assert span.status.code == 2 and "missing" in span.status.message
    assert attributes(span.attributes)["error.type"] == "KeyError"
    assert [e.name for e in span.events] == ["exception"]


def test_batches_are_sent_and_every_span_arrives_once():
    with OtlpReceiver() as receiver:
        exporter = OtlpExporter(receiver.url, batch_size=100, delay_s=0.05)
        exporter.export(spans(250))
        assert exporter.force_flush(10)
        exporter.shutdown(5)
    assert len(receiver.requests) >= 3
    assert sorted(int.from_bytes(s.span_id, "big") for s in receiver.accepted_spans()) == list(
        range(1, 251)
    )
    assert exporter.stats()["sent"] == 250


def test_retries_on_429_502_503_504_then_delivers():
    script = [Reply(503, "0"), Reply(429, "0"), Reply(502), Reply(504, "0")]
    with OtlpReceiver(script) as receiver:
        exporter = OtlpExporter(receiver.url, max_backoff_s=0.05)
        exporter.export(spans(3))
        assert exporter.force_flush(10)
        exporter.shutdown(5)
    assert [r["status"] for r in receiver.requests] == [503, 429, 502, 504, 200]
    assert len(receiver.accepted_spans()) == 3
    assert exporter.stats()["dropped"] == dict.fromkeys(
        ("buffer_full", "rejected", "retries_exhausted", "shutdown"), 0
    )


def test_retry_after_is_honoured():
    with OtlpReceiver([Reply(429, "1")]) as receiver:
        exporter = OtlpExporter(receiver.url)
        exporter.export(spans(1))
        assert exporter.force_flush(10)
        exporter.shutdown(5)
    first, second = receiver.requests
    assert second["time"] - first["time"] >= 1.0


def test_a_bad_request_is_not_retried_and_is_counted():
    with OtlpReceiver([Reply(400)]) as receiver:
        exporter = OtlpExporter(receiver.url)
        exporter.export(spans(4))
        assert exporter.force_flush(10)
        exporter.shutdown(5)
    assert len(receiver.requests) == 1
    assert exporter.stats()["dropped"]["rejected"] == 4


def test_status_shows_what_the_otlp_export_sent_and_dropped(tmp_path):
    with OtlpReceiver([Reply(400)]) as receiver:
        spanwise.configure("trace", home=tmp_path, otlp_endpoint=receiver.url)
        for i in range(3):
            with spanwise.span(f"step {i}"):
                pass
        spanwise.flush()
        otlp = spanwise.status()["exporters"]["otlp"]
        assert otlp["endpoint"] == receiver.url + "/v1/traces"
        assert (otlp["sent"], otlp["dropped"]["rejected"]) == (0, 3)
        with spanwise.span("accepted"):
            pass
        spanwise.flush()
        otlp = spanwise.status()["exporters"]["otlp"]
        spanwise.configure("off")
    assert (otlp["sent"], otlp["dropped"]["rejected"]) == (1, 3)
    assert spanwise.status()["exporters"] == {}


def test_partial_success_counts_the_rejected_spans():
    with OtlpReceiver([Reply(200, rejected=2)]) as receiver:
        exporter = OtlpExporter(receiver.url)
        exporter.export(spans(5))
        assert exporter.force_flush(10)
        exporter.shutdown(5)
    stats = exporter.stats()
    assert (stats["sent"], stats["dropped"]["rejected"]) == (3, 2)


def test_the_buffer_is_bounded_and_drops_are_counted():
    with OtlpReceiver() as receiver:
        exporter = OtlpExporter(receiver.url, max_buffer=10)
        exporter.export(spans(25))
        assert exporter.force_flush(10)
        exporter.shutdown(5)
    assert exporter.stats()["dropped"]["buffer_full"] == 15
    assert len(receiver.accepted_spans()) == 10


def test_an_unreachable_backend_never_blocks_and_is_counted():
    with OtlpReceiver() as receiver:
        url = receiver.url
    exporter = OtlpExporter(url, max_retries=1, max_backoff_s=0.01, timeout_s=1)
    exporter.export(spans(3))
    exporter.force_flush(10)
    exporter.shutdown(2)
    dropped = exporter.stats()["dropped"]
    assert dropped["retries_exhausted"] + dropped["shutdown"] == 3


def test_endpoint_and_retry_after_parsing():
    assert traces_url("http://collector:4318") == "http://collector:4318/v1/traces"
    assert traces_url("https://x.example/otel/v1/traces") == "https://x.example/otel/v1/traces"
    with pytest.raises(spanwise.ConfigError, match="invalid OTLP endpoint 'collector:4318'"):
        traces_url("collector:4318")
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert retry_after_seconds("soon") is None


def test_a_bad_endpoint_is_a_one_line_config_error(tmp_path):
    with pytest.raises(spanwise.ConfigError, match="invalid OTLP endpoint"):
        spanwise.configure("trace", home=tmp_path, otlp_endpoint="localhost:4318")


def _status(home: Path) -> tuple[dict[str, Any], str]:
    """``spanwise status`` as a user runs it after the program ended: JSON, then text."""
    env = {"SPANWISE_HOME": str(home)}
    runner = CliRunner()
    as_json = runner.invoke(cli, ["status", "--json"], env=env, catch_exceptions=False)
    text = runner.invoke(cli, ["status"], env=env, catch_exceptions=False)
    assert as_json.exit_code == text.exit_code == 0, as_json.output + text.output
    return json.loads(as_json.output), text.output


def test_spanwise_status_keeps_what_the_otlp_export_sent_and_dropped_after_the_program_ends(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    with OtlpReceiver([Reply(400)]) as receiver:
        spanwise.configure("trace", home=home, otlp_endpoint=receiver.url)
        for i in range(3):
            with spanwise.span(f"step {i}"):
                pass
        spanwise.flush()  # the receiver refuses these three
        with spanwise.span("accepted"):
            pass
        spanwise.shutdown()
    info, text = _status(home)
    assert info["exporters"] == {
        "otlp": {
            "processes": 1,
            "sent": 1,
            "buffer_full": 0,
            "rejected": 3,
            "retries_exhausted": 0,
            "shutdown": 0,
        }
    }
    words = " ".join(text.split())  # as printed, wrapped to the terminal's width
    line = "otlp sent 1, dropped buffer_full 0, rejected 3, retries_exhausted 0, shutdown 0"
    assert line in words


def test_spans_the_otlp_export_still_held_at_exit_are_counted_in_the_store(
    tmp_path: Path,
) -> None:
    """The receiver asks to retry in 30 s; the program exits sooner: the closing OTLP sink
    drops the spans, and the store, closed after it, keeps that count."""
    home = tmp_path / "home"
    with OtlpReceiver([Reply(503, "30")]) as receiver:
        spanwise.configure("trace", home=home, otlp_endpoint=receiver.url)
        for i in range(4):
            with spanwise.span(f"step {i}"):
                pass
        nudge()  # the writer hands the spans over; the receiver asks to wait
        for _ in range(400):
            if receiver.requests:
                break
            time.sleep(0.01)
        started = time.monotonic()
        spanwise.shutdown(5)
        assert time.monotonic() - started < 5
    otlp = _status(home)[0]["exporters"]["otlp"]
    assert (otlp["sent"], otlp["shutdown"]) == (0, 4)
    assert len(receiver.requests) == 1
