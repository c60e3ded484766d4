"""Redaction of secrets, shared by transcripts, error locals, state snapshots and exports.

Two rules, as in Sentry's and Logfire's scrubbers: a *key* that contains a secret-ish word
(substring, case-insensitive) has its value replaced; a *value* that looks like a
credential (API keys, bearer tokens, AWS keys, JWTs, private keys) is replaced wherever it
appears in text. User hooks run after the built-in rules; a hook that raises stores a
fixed placeholder, never the raw value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from spanwise import _internal

REDACTED = "[REDACTED]"
HOOK_FAILED = "[REDACTION FAILED]"

SECRET_KEY_PARTS = (
    "api_key",
    "apikey",
    "api-key",
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "authorization",
    "x-auth",
    "credential",
    "private_key",
    "privatekey",
    "session_key",
    "cookie",
    "access_key",
    "signature",
)

# Credentials by shape. Each pattern matches the whole secret so it can be replaced in text.
# Compiled on first use (``_compile``): most text has no anchor and is never matched.
SECRET_VALUE_PATTERNS = (
    r"sk-(?:proj-|ant-|live-|test-)?[A-Za-z0-9_\-]{16,}",  # OpenAI / Anthropic / Stripe
    r"(?i)bearer\s+[A-Za-z0-9_\-\.=:/+]{8,}",  # Authorization: Bearer …
    r"(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}(?![A-Z0-9])",  # AWS key id
    r"eyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}",  # JWT
    r"gh[pousr]_[A-Za-z0-9]{20,}",  # GitHub tokens
    r"xox[abposr]-[A-Za-z0-9\-]{10,}",  # Slack tokens
    r"AIza[0-9A-Za-z_\-]{35}",  # Google API keys
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
    r"(?i)aws_secret_access_key[\"'\s:=]{1,5}[A-Za-z0-9/+=]{40}",
)

# Every pattern above contains one of these literals and matches at least 15 characters:
# shorter text, or text with none of them (most text), is returned without running the
# patterns. The literals are looked for as the patterns match them (case-sensitively, but
# for the two ``(?i)`` patterns), in groups so that most text is ruled out in a few scans.
_ANCHORS = ("sk-", "eyJ", "xox", "-----BEGIN")
_GITHUB_ANCHORS = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")  # after "gh"
_KEY_ID_ANCHORS = ("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "AIza")  # after "A"
_ANY_CASE_ANCHORS = ("bearer", "aws_secret_access_key")  # in the lowercased text
_SHORTEST_SECRET = 15

_hooks: list[Callable[[Any], Any]] = []
MAX_DEPTH = 32


_COUNT_WORDS = ("tokens", "tokenizer", "token_count", "tokenize")


_KEY_VERDICTS: dict[str, bool] = {}
_MAX_KEY_VERDICTS = 4096


def is_secret_key(key: object) -> bool:
    """True when ``key`` names a secret. Counts such as ``max_tokens`` or
    ``input_tokens`` are not secrets: "token" is ignored where it reads as a count.
    Verdicts are remembered: the same attribute names come back on every span."""
    if not isinstance(key, str):
        return False
    verdict = _KEY_VERDICTS.get(key)
    if verdict is None:
        if len(_KEY_VERDICTS) >= _MAX_KEY_VERDICTS:
            _KEY_VERDICTS.clear()
        verdict = _KEY_VERDICTS[key] = _names_secret(key)
    return verdict


def _names_secret(key: str) -> bool:
    lowered = key.lower()
    for part in SECRET_KEY_PARTS:
        if part in lowered:
            if part == "token" and any(word in lowered for word in _COUNT_WORDS):
                rest = lowered
                for word in _COUNT_WORDS:
                    rest = rest.replace(word, "")
                if "token" not in rest:
                    continue
            return True
    return False


def redact_text(text: str) -> str:
    """Replace every credential-shaped substring of ``text``."""
    if len(text) < _SHORTEST_SECRET or not _has_anchor(text):
        return text
    for pattern in _PATTERNS or _compile():
        if pattern.search(text):
            text = pattern.sub(REDACTED, text)
    return text


def _has_anchor(text: str) -> bool:
    """Whether ``text`` holds a literal that one of the patterns needs (a superset)."""
    sk, jwt, slack, pem = _ANCHORS
    if sk in text or jwt in text or slack in text or pem in text:
        return True
    if "gh" in text and any(anchor in text for anchor in _GITHUB_ANCHORS):
        return True
    if "A" in text and any(anchor in text for anchor in _KEY_ID_ANCHORS):
        return True
    lowered = text.lower()
    bearer, aws_secret = _ANY_CASE_ANCHORS
    return bearer in lowered or aws_secret in lowered


_PATTERNS: list[re.Pattern[str]] = []


def _compile() -> list[re.Pattern[str]]:
    global _PATTERNS
    _PATTERNS = [re.compile(source) for source in SECRET_VALUE_PATTERNS]
    return _PATTERNS


def redact(value: Any, *, key: object = None, _depth: int = 0) -> Any:
    """A redacted copy of a JSON-like value (dicts, lists, tuples, strings, scalars).

    Other objects are returned as they are; callers repr them first (through
    ``redact_text``) when they need text.
    """
    try:
        result = _redact(value, key, _depth)
        for hook in _hooks:
            try:
                result = hook(result)
            except Exception as exc:  # noqa: BLE001 - a failing hook must not leak the value
                _internal.report("redaction hook", exc)
                return HOOK_FAILED
        return result
    except Exception as exc:  # noqa: BLE001
        _internal.report("redact", exc)
        return HOOK_FAILED


def redact_string(text: str) -> Any:
    """``redact`` for one string: without user hooks, just the text rules (no call chain)."""
    if not _hooks:
        return redact_text(text)
    return redact(text)


def _redact(value: Any, key: object, depth: int) -> Any:
    if key is not None and is_secret_key(key) and value is not None and value != "":
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if depth >= MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {k: _redact(v, k, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_redact(v, None, depth + 1) for v in value]
        return items if isinstance(value, list) else tuple(items)
    return value


def add_redaction_hook(hook: Callable[[Any], Any]) -> Callable[[], None]:
    """Run ``hook(value) -> value`` after the built-in rules on everything redacted.
    Returns a function that removes the hook."""
    _hooks.append(hook)

    def remove() -> None:
        if hook in _hooks:
            _hooks.remove(hook)

    return remove
