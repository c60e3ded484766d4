"""Turning query-string values into query filters, with one-line errors."""

from __future__ import annotations

from spanwise.store._dashboard_queries import TraceFilter

BUCKETS_NS = {"hour": 3_600 * 10**9, "day": 86_400 * 10**9}
TIME_PRESETS = ("15m", "1h", "6h", "24h", "7d", "30d")


class FilterError(ValueError):
    """A filter value the user typed is not valid; the message says which and why."""


def parse_time(value: str | None, field: str) -> int | None:
    """``30m``, ``1h``, ``7d``, ``2w`` (that long ago) or an ISO date/time → epoch ns."""
    if value is None or not value.strip():
        return None
    from spanwise.cli._common import CliError, parse_since

    try:
        return _clamp(parse_since(value.strip()))
    except (CliError, OverflowError, ValueError):
        raise FilterError(
            f"invalid {field} {value[:40]!r}: expected a duration like 30m, 1h, 7d "
            "or a date like 2026-11-01"
        ) from None


def parse_number(value: str | None, field: str) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        number = float(value)
    except ValueError:
        raise FilterError(f"invalid {field} {value[:40]!r}: expected a number") from None
    if not number >= 0 or number == float("inf"):
        raise FilterError(f"invalid {field} {value[:40]!r}: expected a number ≥ 0")
    return number


def trace_filter(
    *,
    since: str | None = None,
    until: str | None = None,
    status: str | None = None,
    session: str | None = None,
    model: str | None = None,
    name: str | None = None,
    min_cost: float | str | None = None,
    min_duration_ms: float | str | None = None,
) -> TraceFilter:
    if status not in (None, "", "ok", "error"):
        raise FilterError(f"invalid status {status[:20]!r}: expected ok or error")
    cost = min_cost if not isinstance(min_cost, str) else parse_number(min_cost, "min cost")
    dur = (
        min_duration_ms
        if not isinstance(min_duration_ms, str)
        else parse_number(min_duration_ms, "min duration")
    )
    return TraceFilter(
        since_ns=parse_time(since, "since"),
        until_ns=parse_time(until, "until"),
        status=status or None,
        session=clean_text(session),
        model=clean_text(model),
        name=clean_text(name),
        min_cost=cost,
        min_duration_ns=_clamp(int(dur * 1e6)) if dur is not None else None,
    )


def _clamp(ns: int | None) -> int | None:
    """Keep a time within what a signed 64-bit column can be compared with."""
    if ns is None:
        return None
    return max(-(1 << 63), min(ns, (1 << 63) - 1))


def clean_text(value: str | None) -> str | None:
    """A text filter, or None when empty. NUL (never stored) becomes U+FFFD, as at ingest."""
    if not value:
        return None
    return value.replace("\x00", "\ufffd")


def bucket_ns(bucket: str | None) -> int:
    if bucket in (None, ""):
        return BUCKETS_NS["day"]
    if bucket not in BUCKETS_NS:
        raise FilterError(f"invalid bucket {bucket[:20]!r}: expected hour or day")
    return BUCKETS_NS[bucket]
