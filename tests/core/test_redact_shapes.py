"""Every credential shape the redactor knows is replaced in text, whatever surrounds it
(the one-search prefilter in front of the patterns must never let one through)."""

from __future__ import annotations

import pytest

from spanwise._redact import REDACTED, is_secret_key, redact_text

SHAPES = {
    "openai key": "sk-proj-" + "a1B2" * 8,
    "anthropic key": "sk-ant-" + "Zz09" * 6,
    "bearer token": "Bearer abc.DEF-123/xyz=",
    "bearer, shouted": "BEARER abcdefgh12345678",
    "bearer, shortest": "Bearer 12345678",  # 15 characters: the shortest secret there is
    "slack, shortest": "xoxb-1234567890",
    "aws key id": "AKIA" + "ABCDEFGH23456789",
    "aws session key id": "ASIA" + "QWERTYUIOP234567",
    "jwt": "eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl",
    "github token": "ghp_" + "x" * 36,
    "slack token": "xoxb-1234567890-abc",
    "google key": "AIza" + "S" * 35,
    "private key": "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
    "aws secret": "AWS_SECRET_ACCESS_KEY=" + "k" * 40,
    "aws secret, lower case": "aws_secret_access_key: " + "k" * 40,
    "bearer, mixed case": "bEaReR abcdefgh12345678",
    **{f"github {kind} token": f"{kind}_" + "y" * 36 for kind in ("gho", "ghu", "ghs", "ghr")},
    **{f"aws {prefix} id": prefix + "ZXCVBNMASDFGHJKL" for prefix in ("AGPA", "AIDA", "AROA")},
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_each_credential_shape_is_replaced(name: str) -> None:
    secret = SHAPES[name]
    out = redact_text(f"config: {secret} (do not share)")
    assert secret not in out
    assert redact_text(secret) == REDACTED  # alone, too
    assert REDACTED in out
    assert out.startswith("config: ") and out.endswith(" (do not share)")


def test_text_without_credentials_comes_back_unchanged() -> None:
    text = "gpt-4o answered in 1.2 s; ask-me-later; skeleton key; eye-opening"
    assert redact_text(text) == text


def test_key_verdicts_stay_right_when_remembered() -> None:
    for _ in range(2):  # the second round answers from the remembered verdicts
        assert is_secret_key("OPENAI_API_KEY")
        assert is_secret_key("refresh_token")
        assert not is_secret_key("gen_ai.usage.input_tokens")
        assert not is_secret_key("max_tokens")
        assert not is_secret_key(42)
