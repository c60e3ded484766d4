"""Artifact substitution: send a short summary of a file instead of the file itself.

An *artifact* is any shorter text that stands for a file in context: a phase summary,
a handoff note, a generated digest. It is used only when its token estimate is smaller
than the file's; pinned files (deliverables the model must edit) are never replaced.

Accounting, for files that end up kept:

- ``artifact_substitutions_count``: files sent as their artifact;
- ``artifact_tokens_used_est``: tokens of the artifacts sent;
- ``fullfile_tokens_avoided_est``: Σ (full-file tokens − artifact tokens).

Omitted files count in none of these. Records keep at most ``MAX_PATHS`` (10)
substituted paths.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

MAX_PATHS = 10


@dataclass(frozen=True)
class Candidate:
    """One file as the budgeter sees it: what would be sent and what it costs."""

    path: str
    text: str
    tokens: int
    full_tokens: int
    from_artifact: bool


def find_artifacts(paths: Iterable[str], documents: Mapping[str, str]) -> dict[str, str]:
    """For each path, the first document (in ``documents`` order) whose text mentions it.

    ``documents`` maps a name (e.g. ``phases/phase_03.md``) to its text; list the ones
    you trust most first. Paths no document mentions are left out.
    """
    found: dict[str, str] = {}
    for path in paths:
        for text in documents.values():
            if path and path in text:
                found[path] = text
                break
    return found


def plan_candidates(
    files: Mapping[str, str],
    artifacts: Mapping[str, str] | None,
    estimate: Callable[[str], int],
    never_substitute: frozenset[str],
) -> dict[str, Candidate]:
    """Every file with its cost: the artifact when one exists and is smaller, else the file."""
    artifacts = artifacts or {}
    out: dict[str, Candidate] = {}
    for path, content in files.items():
        full = estimate(content)
        summary = artifacts.get(path)
        if summary is not None and path not in never_substitute:
            small = estimate(summary)
            if small < full:
                out[path] = Candidate(path, summary, small, full, True)
                continue
        out[path] = Candidate(path, content, full, full, False)
    return out


def cap_paths(paths: Iterable[str], limit: int = MAX_PATHS) -> tuple[str, ...]:
    """At most ``limit`` paths (the first ones), for records and log lines."""
    out: list[str] = []
    for path in paths:
        if len(out) >= limit:
            break
        out.append(path)
    return tuple(out)
