"""Frames as data: file, line, function and code line, plus the locals *of that frame*
for traceback frames. Used by error reports (with locals) and by deadlock and
lock-order reports (live stacks, without locals)."""

from __future__ import annotations

import linecache
import sys
from types import FrameType, TracebackType
from typing import Any

from spanwise.debug._saferepr import Walker

MAX_FRAMES = 100  # per exception; beyond it the outermost frames are dropped (marked)
HEAD_FRAMES = 10  # outermost frames kept when cutting
MAX_CODE_CHARS = 300

# Plumbing whose frames never appear in a report: the capture wrappers themselves and
# the span decorators around the user's functions.
HIDDEN_MODULES = {"spanwise.debug._errors", "spanwise._span"}


def _hidden(frame: FrameType) -> bool:
    try:
        return frame.f_globals.get("__name__") in HIDDEN_MODULES
    except Exception:  # noqa: BLE001
        return False


def traceback_frames(tb: TracebackType | None) -> list[tuple[FrameType, int]]:
    """(frame, line) pairs of a traceback, outermost first, plumbing frames left out."""
    out = []
    seen = 0
    while tb is not None and seen < 10_000:
        frame = tb.tb_frame
        if not _hidden(frame):
            out.append((frame, tb.tb_lineno or 0))
        tb = tb.tb_next
        seen += 1
    return out


def code_line(frame: FrameType, lineno: int) -> str:
    try:
        filename = frame.f_code.co_filename
        line = linecache.getline(filename, lineno, frame.f_globals).strip()
    except Exception:  # noqa: BLE001 - an unreadable source file
        return ""
    return line if len(line) <= MAX_CODE_CHARS else line[:MAX_CODE_CHARS] + "…"


def frame_info(frame: FrameType, lineno: int) -> dict[str, Any]:
    code = frame.f_code
    return {
        "file": code.co_filename,
        "line": lineno,
        "function": getattr(code, "co_qualname", code.co_name),
        "code": code_line(frame, lineno),
    }


def frame_locals(frame: FrameType, walker: Walker) -> dict[str, Any] | None:
    """The frame's own variables, bounded and redacted. A module's top level has its
    globals as locals: those are not variables of a call and are left out (None)."""
    if frame.f_code.co_name == "<module>":
        return None
    try:
        raw = dict(frame.f_locals)
    except Exception:  # noqa: BLE001 - f_locals of an odd frame
        return {}
    names = {k: v for k, v in raw.items() if not (k.startswith("__") and k.endswith("__"))}
    return walker.mapping(names)


def describe_traceback(
    frames: list[tuple[FrameType, int]], walker: Walker, with_locals: bool = True
) -> tuple[list[dict[str, Any]], int]:
    """Frame dicts (outermost first) and how many middle frames were cut. Locals are
    captured innermost first, so the size budget goes to where the error happened."""
    omitted = 0
    if len(frames) > MAX_FRAMES:
        omitted = len(frames) - MAX_FRAMES
        frames = frames[:HEAD_FRAMES] + frames[HEAD_FRAMES + omitted :]
    out = [frame_info(f, line) for f, line in frames]
    if with_locals:
        for info, (frame, _) in zip(reversed(out), reversed(frames), strict=True):
            info["locals"] = frame_locals(frame, walker)
    if omitted:
        out.insert(HEAD_FRAMES, {"omitted_frames": omitted})
    return out, omitted


def live_stack(frame: FrameType | None, limit: int = 40) -> list[dict[str, Any]]:
    """A running stack from its outermost frame to ``frame`` (no locals)."""
    chain: list[dict[str, Any]] = []
    while frame is not None and len(chain) < limit:
        if not frame.f_globals.get("__name__", "").startswith("spanwise.debug."):
            chain.append(frame_info(frame, frame.f_lineno or 0))
        frame = frame.f_back
    chain.reverse()
    return chain


def thread_stack(ident: int, limit: int = 40) -> list[dict[str, Any]]:
    """The current stack of another thread of this process (empty if it is gone)."""
    try:
        frame = sys._current_frames().get(ident)
    except Exception:  # noqa: BLE001
        return []
    return live_stack(frame, limit)


def caller_stack(skip: int = 1, limit: int = 12) -> list[dict[str, Any]]:
    """The stack of the code calling into spanwise, innermost ``limit`` frames."""
    try:
        frame: FrameType | None = sys._getframe(skip)
    except ValueError:
        return []
    return live_stack(frame, limit)
