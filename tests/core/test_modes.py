"""Modes: off is free and silent, metrics aggregates in memory, trace persists; bad
settings are one-line errors, and from the environment a warning that leaves tracing off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import spanwise


def run_python(code: str, env_extra: dict[str, str], cwd) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPANWISE_")}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_off_mode_creates_no_files_no_threads_and_imports_only_stdlib(tmp_path):
    home = tmp_path / "home"
    code = """
        import sys, threading, json
        before = set(sys.modules)
        import spanwise
        new = set(sys.modules) - before
        @spanwise.span
        def work(x):
            with spanwise.span("inner", k=1):
                spanwise.record_llm_call(
                    provider="openai", model="gpt-4o", input_tokens=1, output_tokens=1
                )
            return x
        assert work(5) == 5
        spanwise.flush(); spanwise.shutdown()
        third_party = sorted(m for m in new if m.split(".")[0] not in sys.stdlib_module_names
                             and m.split(".")[0] != "spanwise")
        print(json.dumps({"threads": threading.active_count(), "third_party": third_party}))
    """
    result = run_python(code, {"SPANWISE_HOME": str(home)}, tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out == {"threads": 1, "third_party": []}
    assert not home.exists()
    assert os.listdir(tmp_path) == []  # nothing written in the working directory either


def test_metrics_mode_summarizes_in_memory_without_files(tmp_path):
    home = tmp_path / "home"
    spanwise.configure("metrics", home=home)
    with spanwise.span("run"):
        for _ in range(3):
            with spanwise.span("step"):
                spanwise.record_llm_call(
                    provider="openai", model="gpt-4o-mini", input_tokens=1000, output_tokens=100
                )
        spanwise.record_llm_call(
            provider="acme", model="acme-secret-model", input_tokens=10, output_tokens=5
        )
    s = spanwise.summary()
    assert not home.exists()
    assert s["span_count"] == 8  # run + 3 steps + 4 llm spans
    assert s["llm_calls"] == 4
    assert s["tokens"]["input"] == 3010 and s["tokens"]["output"] == 305
    assert s["cost_usd"] is None
    assert s["pricing_available"] is False
    assert s["unavailable_models"] == ["acme-secret-model"]
    # gpt-4o-mini: $0.15 / MTok in, $0.60 / MTok out, three calls accumulated
    assert s["partial_cost_usd"] == pytest.approx(3 * (1000 * 0.15 + 100 * 0.60) / 1e6)
    assert s["time_by_span_name"]["step"]["count"] == 3


def test_trace_mode_persists_into_home(tmp_path):
    home = tmp_path / "home"
    spanwise.configure("trace", home=home)
    with spanwise.span("persisted"):
        pass
    spanwise.shutdown()
    assert (home / "spanwise.db").exists()


def test_trace_mode_loads_the_otlp_sink_only_when_an_endpoint_is_set(tmp_path):
    code = """
        import sys, spanwise
        spanwise.configure("trace", home=sys.argv[1] if len(sys.argv) > 1 else None)
        with spanwise.span("work"):
            pass
        spanwise.shutdown()
        print("spanwise.otel" in sys.modules)
    """
    home = str(tmp_path / "home")
    without = run_python(code, {"SPANWISE_HOME": home}, tmp_path)
    assert without.returncode == 0, without.stderr
    assert without.stdout.strip() == "False"
    # The port is closed: the sink counts the span as dropped, the program is unaffected.
    endpoint = {"SPANWISE_HOME": home, "SPANWISE_OTLP_ENDPOINT": "http://127.0.0.1:9"}
    with_endpoint = run_python(code, endpoint, tmp_path)
    assert with_endpoint.returncode == 0, with_endpoint.stderr
    assert with_endpoint.stdout.strip() == "True"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mode": "loud"}, "invalid mode 'loud': expected one of off, metrics, trace"),
        (
            {"mode": "trace", "store": "mysql://x"},
            "invalid store URL 'mysql://x': expected sqlite:///PATH or postgresql://USER@HOST/DB",
        ),
    ],
)
def test_bad_configure_values_are_one_line_errors(tmp_path, kwargs, message):
    with pytest.raises(spanwise.ConfigError) as err:
        spanwise.configure(home=tmp_path, **kwargs)
    assert str(err.value) == message
    assert "\n" not in str(err.value)


def test_a_bad_otlp_endpoint_leaves_the_previous_configuration(tmp_path):
    spanwise.configure("metrics", home=tmp_path)
    with pytest.raises(spanwise.ConfigError) as err:
        spanwise.configure("trace", home=tmp_path, otlp_endpoint="collector:4318")
    assert str(err.value) == (
        "invalid OTLP endpoint 'collector:4318': expected http(s)://HOST[:PORT][/v1/traces]"
    )
    assert spanwise.status()["mode"] == "metrics"
    with spanwise.span("still counted"):
        pass
    assert spanwise.summary()["span_count"] == 1
    spanwise.configure("off")


def test_bad_otlp_endpoint_from_environment_warns_and_stays_off(tmp_path):
    code = """
        import spanwise
        with spanwise.span("x"):
            pass
        print(spanwise.status()["mode"])
    """
    env = {
        "SPANWISE_MODE": "trace",
        "SPANWISE_OTLP_ENDPOINT": "notaurl",
        "SPANWISE_HOME": str(tmp_path / "h"),
    }
    result = run_python(code, env, tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == "off"
    assert "invalid OTLP endpoint 'notaurl'" in result.stderr
    assert not (tmp_path / "h").exists()


def test_bad_mode_from_environment_warns_and_stays_off(tmp_path):
    code = """
        import spanwise
        with spanwise.span("x"):
            pass
        print(spanwise.status()["mode"])
    """
    result = run_python(
        code, {"SPANWISE_MODE": "verbose", "SPANWISE_HOME": str(tmp_path / "h")}, tmp_path
    )
    assert result.returncode == 0
    assert result.stdout.strip() == "off"
    assert "invalid SPANWISE_MODE 'verbose'" in result.stderr


def test_mode_from_environment_at_import_records(tmp_path):
    home = tmp_path / "h"
    code = """
        import spanwise
        with spanwise.span("from env"):
            pass
    """
    result = run_python(code, {"SPANWISE_MODE": "trace", "SPANWISE_HOME": str(home)}, tmp_path)
    assert result.returncode == 0, result.stderr
    import sqlite3

    names = sqlite3.connect(home / "spanwise.db").execute("SELECT name FROM spans").fetchall()
    assert names == [("from env",)]


def test_persisted_mode_is_the_default(tmp_path):
    from spanwise.cli import cli

    home = tmp_path / "h"
    cli.main(["mode", "on", "--home", str(home)], standalone_mode=False, obj={"console": _quiet()})
    code = """
        import spanwise
        print(spanwise.status()["mode"], spanwise.status()["mode_source"])
    """
    result = run_python(code, {"SPANWISE_HOME": str(home)}, tmp_path)
    assert result.stdout.split() == ["trace", "config.toml"]
    cli.main(["mode", "off", "--home", str(home)], standalone_mode=False, obj={"console": _quiet()})
    result = run_python(code, {"SPANWISE_HOME": str(home)}, tmp_path)
    assert result.stdout.split()[0] == "off"


def _quiet():
    from io import StringIO

    from rich.console import Console

    return Console(file=StringIO(), width=100)
