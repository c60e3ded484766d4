"""The public names are pinned: adding or removing one is a deliberate change here."""

import spanwise

EXPECTED = {
    "AsyncLock",
    "ConfigError",
    "FileLock",
    "Lock",
    "RLock",
    "Span",
    "capture_errors",
    "configure",
    "current_span",
    "flush",
    "instrument",
    "instrument_lock",
    "record_llm_call",
    "shutdown",
    "span",
    "status",
    "summary",
    "traceparent",
    "track_state",
    "with_context",
}


def test_public_names_are_pinned() -> None:
    assert set(spanwise.__all__) == EXPECTED


def test_every_public_name_exists() -> None:
    for name in spanwise.__all__:
        assert getattr(spanwise, name) is not None, name
