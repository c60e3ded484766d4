"""Transcripts: kept only with content capture on, interned, capped and redacted before
any sink — checked in the SQLite store, the JSONL file and the OTLP payload."""

from __future__ import annotations

import json
import sqlite3
import string
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from otlp_receiver import OtlpReceiver

import spanwise
from spanwise import _redact
from spanwise._transcripts import MAX_STRING_CHARS, TRUNCATED_ATTR

MESSAGES = [{"role": "user", "content": "Say hello"}]


def blobs_of(home: Path) -> dict[str, Any]:
    """Each LLM call's prompt/response/system as stored (decoded JSON)."""
    spanwise.flush()
    con = sqlite3.connect(home / "spanwise.db")
    try:
        rows = con.execute(
            "SELECT (SELECT content FROM blobs WHERE hash = l.prompt_hash), "
            "(SELECT content FROM blobs WHERE hash = l.response_hash), "
            "(SELECT content FROM blobs WHERE hash = l.system_hash) FROM llm_calls l ORDER BY id"
        ).fetchall()
    finally:
        con.close()
    names = ("prompt", "response", "system")
    return [{k: _json(v) for k, v in zip(names, row, strict=True)} for row in rows]


def _json(text: str | None) -> Any:
    try:
        return json.loads(text) if text is not None else None
    except ValueError:
        return text


def test_nothing_is_kept_with_capture_off(provider, tmp_path, instrumented):
    instrumented("openai")
    spanwise.configure("trace", home=tmp_path)
    with openai.OpenAI(base_url=provider.url + "/v1", api_key="sk-test") as c:
        c.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert blobs_of(tmp_path) == [{"prompt": None, "response": None, "system": None}]
    con = sqlite3.connect(tmp_path / "spanwise.db")
    assert con.execute("SELECT COUNT(*) FROM blobs").fetchone()[0] == 0
    con.close()


def test_openai_transcript_with_capture_on(provider, tmp_path, instrumented):
    instrumented("openai")
    spanwise.configure("trace", home=tmp_path, capture_content=True)
    with openai.OpenAI(base_url=provider.url + "/v1", api_key="sk-test") as c:
        c.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        list(c.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    plain, streamed = blobs_of(tmp_path)
    assert plain["prompt"] == MESSAGES
    assert plain["response"] == [{"role": "assistant", "content": "Hello, world!"}]
    assert streamed["response"] == [{"role": "assistant", "content": "Hello, world!"}]


def test_anthropic_system_prompt_and_streamed_blocks(provider, tmp_path, instrumented):
    instrumented("anthropic")
    spanwise.configure("trace", home=tmp_path, capture_content=True)
    with anthropic.Anthropic(base_url=provider.url, api_key="sk-ant-test") as c:
        with c.messages.stream(
            model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES, system="You are terse."
        ) as stream:
            stream.until_done()
    (call,) = blobs_of(tmp_path)
    assert call["system"] == "You are terse."
    assert call["prompt"] == MESSAGES
    assert call["response"] == [
        {"role": "assistant", "content": [{"type": "text", "text": "Hello, world!"}]}
    ]


def test_a_repeated_large_prompt_is_stored_once(provider, tmp_path, instrumented):
    instrumented("openai")
    spanwise.configure("trace", home=tmp_path, capture_content=True)
    big = [{"role": "user", "content": "context " * 2500}]  # 20 KB
    with openai.OpenAI(base_url=provider.url + "/v1", api_key="sk-test") as c:
        for _ in range(5):
            c.chat.completions.create(model="gpt-4o", messages=big)
    spanwise.flush()
    con = sqlite3.connect(tmp_path / "spanwise.db")
    hashes = {r[0] for r in con.execute("SELECT prompt_hash FROM llm_calls")}
    big_blobs = con.execute("SELECT COUNT(*) FROM blobs WHERE size > 10000").fetchone()[0]
    con.close()
    assert len(hashes) == 1 and big_blobs == 1


def test_long_texts_are_capped_and_marked(tmp_path):
    spanwise.configure("trace", home=tmp_path, capture_content=True)
    spanwise.record_llm_call(
        provider="openai",
        model="gpt-4o",
        input_tokens=1,
        output_tokens=1,
        prompt="x" * (MAX_STRING_CHARS + 500),
    )
    (call,) = blobs_of(tmp_path)
    assert call["prompt"] == "x" * MAX_STRING_CHARS + "…[truncated 500 chars]"
    con = sqlite3.connect(tmp_path / "spanwise.db")
    (attrs,) = con.execute("SELECT attributes FROM spans").fetchone()
    con.close()
    assert json.loads(attrs)[TRUNCATED_ATTR] is True


def test_a_failing_redaction_hook_stores_the_placeholder(tmp_path, internal_errors):
    def hook(value: Any) -> Any:
        raise RuntimeError("hook bug")

    remove = _redact.add_redaction_hook(hook)
    try:
        spanwise.configure("trace", home=tmp_path, capture_content=True)
        spanwise.record_llm_call(
            provider="openai",
            model="gpt-4o",
            input_tokens=1,
            output_tokens=1,
            prompt="customer 4421 asked about refunds",
        )
        (call,) = blobs_of(tmp_path)
    finally:
        remove()
    assert call["prompt"] == _redact.HOOK_FAILED
    assert any(where == "redaction hook" for where, _ in internal_errors.items)


# -- property: no generated secret survives in the store, the JSONL or the OTLP payload --

_ALNUM = string.ascii_letters + string.digits
_B64URL = _ALNUM + "-_"


def _secrets() -> st.SearchStrategy[str]:
    text = st.text
    return st.one_of(
        st.builds(
            lambda p, b: f"sk-{p}{b}",
            st.sampled_from(["", "proj-", "ant-"]),
            text(_ALNUM, min_size=20, max_size=48),
        ),
        st.builds(lambda b: f"Bearer {b}", text(_ALNUM + "-._", min_size=12, max_size=40)),
        st.builds(
            lambda b: f"AKIA{b}",
            text(string.ascii_uppercase + string.digits, min_size=16, max_size=16),
        ),
        st.builds(
            lambda a, b, c: f"eyJ{a}.eyJ{b}.{c}",
            text(_B64URL, min_size=8, max_size=30),
            text(_B64URL, min_size=8, max_size=30),
            text(_B64URL, min_size=8, max_size=30),
        ),
        st.builds(lambda b: f"ghp_{b}", text(_ALNUM, min_size=36, max_size=36)),
    )


_SURROUNDING = st.text(" .,;:!?()\n\täö漢字", max_size=20)
_PLACES = [
    "user message",
    "system prompt",
    "response",
    "tool arguments",
    "secret-named key",
    "secret-named attribute",
    "attribute text",
]


def _record(secret: str, place: str, before: str, after: str) -> None:
    text = f"{before} {secret} {after}"
    prompt: list[dict[str, Any]] = [{"role": "user", "content": "hello"}]
    system: Any = "You are helpful."
    response: Any = [{"role": "assistant", "content": "hi"}]
    attributes: dict[str, Any] = {}
    if place == "user message":
        prompt[0]["content"] = text
    elif place == "system prompt":
        system = text
    elif place == "response":
        response[0]["content"] = text
    elif place == "tool arguments":
        response[0]["tool_calls"] = [{"name": "deploy", "arguments": json.dumps({"cmd": text})}]
    elif place == "secret-named key":
        prompt[0]["metadata"] = {"X-Api-Key": secret.replace(" ", "")}
    elif place == "secret-named attribute":
        attributes["http.request.header.authorization"] = secret
    else:
        attributes["user.note"] = text
    spanwise.record_llm_call(
        provider="openai",
        model="gpt-4o",
        input_tokens=3,
        output_tokens=1,
        prompt=prompt,
        system=system,
        response=response,
        attributes=attributes,
    )


def _sink_bytes(home: Path, jsonl: Path, receiver: OtlpReceiver) -> dict[str, bytes]:
    spanwise.flush()
    store = b"".join(p.read_bytes() for p in home.glob("spanwise.db*"))
    return {
        "store": store,
        "jsonl": jsonl.read_bytes(),
        "otlp": b"".join(r["body"] for r in receiver.requests),
    }


def test_no_generated_secret_survives_in_any_sink(tmp_path):
    home, jsonl = tmp_path / "home", tmp_path / "calls.jsonl"
    with OtlpReceiver() as receiver:
        spanwise.configure(
            "trace",
            home=home,
            capture_content=True,
            jsonl_path=str(jsonl),
            otlp_endpoint=receiver.url,
        )
        _record("plain-visible-marker", "user message", "", "")
        sinks = _sink_bytes(home, jsonl, receiver)
        assert all(b"plain-visible-marker" in data for data in sinks.values())  # sinks work

        @settings(
            max_examples=40,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        )
        @given(secret=_secrets(), before=_SURROUNDING, after=_SURROUNDING)
        def check(secret: str, before: str, after: str) -> None:
            for place in _PLACES:  # every place, every example
                _record(secret, place, before, after)
            token = secret.split()[-1].encode()
            for sink, data in _sink_bytes(home, jsonl, receiver).items():
                assert secret.encode() not in data, f"{secret!r} leaked into {sink}"
                assert token not in data, f"{token!r} leaked into {sink}"

        check()
        spanwise.shutdown()


def test_secret_keys_in_a_real_clients_transcript_are_redacted(provider, tmp_path, instrumented):
    instrumented("openai")
    spanwise.configure("trace", home=tmp_path, capture_content=True)
    messages = [
        {"role": "user", "content": "deploy with password hunter2hunter2 please", "name": "ops"},
        {"role": "user", "content": "Authorization: Bearer abcdefghijklmnop1234"},
    ]
    with openai.OpenAI(base_url=provider.url + "/v1", api_key="sk-test") as c:
        c.chat.completions.create(model="gpt-4o", messages=messages)
    (call,) = blobs_of(tmp_path)
    assert call["prompt"][1]["content"] == "Authorization: [REDACTED]"
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("spanwise.db*"))
    assert b"abcdefghijklmnop1234" not in raw


@pytest.fixture(autouse=True)
def _off_after() -> Any:
    yield
    spanwise.configure("off")
