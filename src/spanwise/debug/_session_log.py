"""Files under ``SPANWISE_HOME/sessions/<session>/``, written by the pipeline.

- ``events.jsonl``: with a session set (``configure(session=…)`` or
  ``SPANWISE_SESSION``), every record, one JSON object per line with its trace id (lock
  acquisitions as one line per event: requested, acquired, released).
- ``errors/<trace_id>_error.json``: each error report (session ``default`` when none is
  set); a second report in the same trace gets ``<trace_id>_error_<error id>.json``.
  Files are written whole (temporary file, then a hard link that fails if the name is
  taken), so a reader never sees half a report.

Importing this module registers ``extension`` in ``spanwise._setup.PIPELINE_EXTENSIONS``
(``_setup`` imports it whenever it builds a pipeline): at each ``configure("trace")`` it
wires these sinks, the lock-batch drain, the LLM-call linker and the store writers, and
switches existing locks to recording.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spanwise import _internal
from spanwise._export import Exporter, ExportResult, Processor
from spanwise._setup import PIPELINE_EXTENSIONS

DEFAULT_SESSION = "default"
# Compiled on first use (``re`` caches it): most runs never name a session's folder.
_UNSAFE = r"[^A-Za-z0-9._\-]"


def session_dir(home: Path, session: str | None) -> Path:
    """``home/sessions/<session>`` with the name made safe for a directory."""
    name = re.sub(_UNSAFE, "_", session or DEFAULT_SESSION)[:120]
    if name in ("", ".", ".."):
        name = "_"
    return Path(home) / "sessions" / name


class ErrorFiles:
    """Writes each error report to its session's ``errors/`` directory."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home).absolute()

    def export(self, records: Sequence[Any]) -> ExportResult:
        result = ExportResult.SUCCESS
        for record in records:
            if record.record_type != "error":
                continue
            try:
                self._write(record)
            except OSError as exc:
                _internal.report("error_files", exc)
                result = ExportResult.FAILURE
        return result

    def _write(self, record: Any) -> None:
        from spanwise.debug._links import llm_summary

        report = record.report
        report["llm_calls"] = [llm_summary(s) for s in record.llm_calls]
        directory = session_dir(self.home, report.get("session")) / "errors"
        directory.mkdir(parents=True, exist_ok=True)
        trace = report.get("trace_id") or "no-trace"
        names = (f"{trace}_error.json", f"{trace}_error_{report['error_id']}.json")
        tmp = directory / f".{report['error_id']}.{os.getpid()}.tmp"
        try:
            for name in names:
                path = directory / name
                report["path"] = str(path)
                with open(tmp, "w", encoding="utf-8") as f:
                    json.dump(record.to_dict(), f, indent=2, ensure_ascii=False, default=str)
                try:
                    os.link(tmp, path)
                    return
                except FileExistsError:
                    continue
            report["path"] = None
        finally:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass

    def force_flush(self, timeout: float | None = None) -> bool:
        return True

    def shutdown(self, timeout: float | None = None) -> None:
        return None


def extension(settings: Any) -> tuple[list[Processor], list[Exporter]]:
    """PIPELINE_EXTENSIONS hook: run at each ``configure("trace")``. The store writers
    load with the first record they write (on the writer thread, under the store's lock,
    which a fork waits for)."""
    from spanwise.debug._links import LlmLinker
    from spanwise.store._exporter import register_writer

    for record_type, name in STORE_WRITERS:
        register_writer(record_type, _StoreWriter(name))
    locks = sys.modules.get("spanwise.debug._locks")
    if locks is not None:  # no module, no lock made yet: later ones start recording
        locks.switch_all_traced()
    sinks: list[Exporter] = [ErrorFiles(settings.home)]
    if settings.session:
        from spanwise.debug._events_log import SessionLog

        sinks.append(SessionLog(session_dir(settings.home, settings.session) / "events.jsonl"))
    return [drain_lock_batches, LlmLinker()], sinks


# Record type -> its writer in ``spanwise.debug._store``.
STORE_WRITERS = (
    ("error", "write_errors"),
    ("lock_event", "write_lock_events"),
    ("state_diff", "write_state_diffs"),
)


class _StoreWriter:
    """A writer of ``spanwise.debug._store``, imported with the first record it writes."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, cur: Any, records: Sequence[Any], placeholder: str) -> None:
        from spanwise.debug import _store

        getattr(_store, self.name)(cur, records, placeholder)


class _LockDrain:
    """The lock-batch drain (``_lockbuffer.drain_batch``); as long as no lock module is
    loaded, a dictionary lookup per batch: lock records exist only once one is."""

    def __call__(self, record: Any) -> Any:
        return self.process_batch([record])[0]

    @staticmethod
    def process_batch(batch: list[Any]) -> list[Any]:
        buffer = sys.modules.get("spanwise.debug._lockbuffer")
        if buffer is not None:
            buffer.drain_batch(batch)
        return batch


drain_lock_batches = _LockDrain()


if extension not in PIPELINE_EXTENSIONS:
    PIPELINE_EXTENSIONS.append(extension)
