"""The JSONL sink and its reader; the test fixture that catches swallowed errors."""

from __future__ import annotations

import json

import spanwise
from spanwise.exporters.jsonl import JsonlExporter, JsonlReadStats, read_jsonl


def test_jsonl_sink_writes_one_record_per_line_beside_the_store(tmp_path):
    path = tmp_path / "spans.jsonl"
    spanwise.configure("trace", home=tmp_path / "home", jsonl_path=str(path))
    with spanwise.span("parent", user="ann"):
        spanwise.record_llm_call(
            provider="openai", model="gpt-4o", input_tokens=10, output_tokens=2
        )
    spanwise.shutdown()
    lines = path.read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["name"] for r in records] == ["chat gpt-4o", "parent"]
    assert records[0]["llm"]["input_tokens"] == 10
    assert records[0]["llm"]["cost_usd"] > 0
    assert records[1]["attributes"] == {"user": "ann"}
    assert records[0]["trace_id"] == records[1]["trace_id"]
    assert (tmp_path / "home" / "spanwise.db").exists()  # both sinks


def test_reader_skips_a_torn_last_line(tmp_path):
    path = tmp_path / "torn.jsonl"
    exporter = JsonlExporter(path)
    spanwise.configure("trace", home=tmp_path / "home", exporters=[exporter])
    for i in range(3):
        with spanwise.span(f"s{i}"):
            pass
    spanwise.shutdown()
    with open(path, "a") as f:
        f.write('{"record_type": "span", "name": "half-writ')  # killed mid-write
    stats = JsonlReadStats()
    names = [r["name"] for r in read_jsonl(path, stats)]
    assert names == ["s0", "s1", "s2"]
    assert (stats.lines, stats.skipped) == (3, 1)


def test_fixture_fails_a_test_in_which_spanwise_swallowed_an_error(pytester):
    import pathlib

    conftest = pathlib.Path(__file__).parent.parent / "conftest.py"
    pytester.makeconftest(conftest.read_text())
    pytester.makepyfile(
        test_inner="""
        import spanwise
        from spanwise._export import ExportResult

        class Broken:
            def export(self, records):
                raise RuntimeError("sink exploded")
            def force_flush(self, timeout=None):
                return True
            def shutdown(self, timeout=None):
                pass

        def test_swallowed(tmp_path):
            spanwise.configure("trace", home=tmp_path, exporters=[Broken()])
            with spanwise.span("x"):
                pass
            spanwise.flush()

        def test_declared(tmp_path, internal_errors):
            spanwise.configure("trace", home=tmp_path, exporters=[Broken()])
            with spanwise.span("x"):
                pass
            spanwise.flush()
            assert internal_errors.items
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    # test_swallowed runs to the end, then errors at teardown; test_declared is clean.
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*spanwise swallowed an internal error in exporter Broken*sink exploded*",
            "ERROR test_inner.py::test_swallowed*",
        ]
    )
