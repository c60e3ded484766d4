"""``configure()``, ``flush()``, ``shutdown()``, ``summary()`` and ``status()``."""

from __future__ import annotations

import atexit
import os
import threading
import warnings

from spanwise import _internal
from spanwise._ids import RandomIds
from spanwise._runtime import RT

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    from spanwise._clock import Clock
    from spanwise._export import Exporter, Processor
    from spanwise._ids import IdGenerator
    from spanwise._settings import Settings

# Modules that register pipeline extensions (PIPELINE_EXTENSIONS) when imported; imported
# when a pipeline is built, so that ``import spanwise`` stays light. The OTLP sink's module
# only when an endpoint is configured: without one its extension adds nothing.
EXTENSION_MODULES = ["spanwise._transcripts", "spanwise.debug._session_log"]
OTLP_EXTENSION_MODULE = "spanwise.otel"

_lock = threading.RLock()


class _State:
    settings: Settings | None = None
    pipeline: Any = None
    aggregator: Any = None
    pricer: Any = None
    atexit_registered = False
    ids: Any = None


STATE = _State()

# Hooks other features register to add processors or exporters in trace mode:
# fn(settings) -> (processors, exporters)
PIPELINE_EXTENSIONS: list[Callable[[Settings], tuple[list[Processor], list[Exporter]]]] = []


def configure(
    mode: str | None = None,
    *,
    store: str | None = None,
    home: str | os.PathLike[str] | None = None,
    session: str | None = None,
    capture_content: bool | None = None,
    otlp_endpoint: str | None = None,
    jsonl_path: str | None = None,
    exporters: Sequence[Exporter] | None = None,
    processors: Sequence[Processor] = (),
    clock: Clock | None = None,
    ids: IdGenerator | None = None,
    queue_size: int | None = None,
    batch_size: int | None = None,
    flush_interval: float | None = None,
) -> Settings:
    """Turn spanwise on (``"metrics"`` or ``"trace"``) or off.

    Arguments win over ``SPANWISE_*`` environment variables, which win over
    ``SPANWISE_HOME/config.toml``. ``exporters`` replaces the default sinks (the store,
    plus JSONL and OTLP when asked for). Raises ``ConfigError`` (a ValueError) with a
    one-line message on a bad value; the previous configuration stays in force then.
    """
    from spanwise._settings import resolve

    settings = resolve(
        mode,
        home=home,
        store=store,
        session=session,
        capture_content=capture_content,
        otlp_endpoint=otlp_endpoint,
        jsonl_path=jsonl_path,
    )
    with _lock:
        _stop_current()
        _apply_clock_and_ids(clock, ids)
        RT.remote_trace_id = RT.remote_parent_id = 0
        if settings.mode != "off":
            _apply_traceparent()
        RT.capture_content = settings.capture_content
        RT.session = settings.session
        RT.mode = settings.mode
        RT.settings = settings
        STATE.settings = settings
        from spanwise._pricing import Pricer
        from spanwise._summary import Aggregator

        # Trace mode keeps fitted price lines on disk (metrics mode writes no files).
        STATE.pricer = Pricer(
            settings.price_overrides,
            cache_path=_price_cache(settings) if settings.mode == "trace" else None,
        )
        # genai-prices loads when a call with usage first needs it (``prepare_prices``).
        STATE.aggregator = Aggregator(STATE.pricer)
        if settings.mode == "metrics":
            RT.emit = STATE.aggregator.add
        elif settings.mode == "trace":
            STATE.pipeline = _build_pipeline(
                settings, exporters, processors, queue_size, batch_size, flush_interval
            )
            attach(STATE.pipeline)
            if not STATE.atexit_registered:
                atexit.register(_at_exit)
                STATE.atexit_registered = True
        return settings


def _price_cache(settings: Settings) -> str:
    return str(settings.home / "cache" / "price-lines.json")


def cache_price_lines() -> None:
    """Keep fitted price lines under ``SPANWISE_HOME/cache`` in metrics mode too, as trace
    mode always does: for the CLI's own runs, which write under the home anyway. A model
    the cache knows is then priced (or known to be unpriced) without importing
    genai-prices."""
    settings, pricer = STATE.settings, STATE.pricer
    if settings is not None and pricer is not None:
        pricer.use_cache(_price_cache(settings))


def _apply_clock_and_ids(clock: Clock | None, ids: IdGenerator | None) -> None:
    import time

    if clock is not None:
        RT.perf, RT.offset = clock.monotonic_ns, clock.epoch_offset_ns
    else:
        RT.perf = time.perf_counter_ns
        RT.offset = time.time_ns() - time.perf_counter_ns()
    gen = ids if ids is not None else RandomIds()
    # Kept alive: RandomIds' at-fork reseed holds only a weak reference, and without it a
    # forked child would repeat its parent's trace and span ids.
    STATE.ids = gen
    RT.new_trace, RT.new_span = gen.trace_id, gen.span_id


def _apply_traceparent() -> None:
    raw = os.environ.get("TRACEPARENT")
    if raw:
        from spanwise._propagation import parse_traceparent

        parsed = parse_traceparent(raw)
        if parsed is None:
            warnings.warn(f"spanwise: ignoring invalid TRACEPARENT {raw!r}", stacklevel=3)
        else:
            RT.remote_trace_id, RT.remote_parent_id = parsed


def _build_pipeline(
    settings: Settings,
    exporters: Sequence[Exporter] | None,
    processors: Sequence[Processor],
    queue_size: int | None,
    batch_size: int | None,
    flush_interval: float | None,
) -> Any:
    import importlib

    from spanwise import _pipeline
    from spanwise._pricing import price_processor

    wanted = [*EXTENSION_MODULES, *([OTLP_EXTENSION_MODULE] if settings.otlp_endpoint else [])]
    for module in wanted:
        try:
            importlib.import_module(module)
        except ImportError:
            pass  # that feature is not installed

    # Pricing first: every processor after it (and the user's) sees each call's cost.
    procs: list[Processor] = [price_processor(STATE.pricer), *processors]
    sinks: list[Exporter]
    if exporters is not None:
        sinks = list(exporters)
    else:
        from spanwise.store._exporter import StoreExporter

        sinks = [StoreExporter(settings.store or "")]
        if settings.jsonl_path:
            from spanwise.exporters.jsonl import JsonlExporter

            sinks.append(JsonlExporter(settings.jsonl_path))
    for extension in PIPELINE_EXTENSIONS:
        extra_procs, extra_sinks = extension(settings)
        procs.extend(extra_procs)
        if exporters is None:
            sinks.extend(extra_sinks)
    procs.append(STATE.aggregator)
    return _pipeline.Pipeline(
        sinks,
        procs,
        queue_size=queue_size or _pipeline.DEFAULT_QUEUE_SIZE,
        batch_size=batch_size or _pipeline.DEFAULT_BATCH_SIZE,
        interval_s=flush_interval or _pipeline.DEFAULT_INTERVAL_S,
    )


def attach(pipeline: Any) -> None:
    """Point the hot path at ``pipeline``'s queue (also after fork, in the child)."""
    RT.cap = pipeline.queue_size
    RT.on_full = pipeline.drop_full
    RT.queue = pipeline._queue
    RT.emit = pipeline.enqueue


def tap(fn: Callable[[Any], None], *, instead_of_summary: bool = False) -> bool:
    """Also hand every record to ``fn``, in the thread that emits it and before the
    pipeline (or the metrics aggregator) gets it. For a consumer in this process that
    needs records as they end, such as ``spanwise run``'s collector, whose metrics and
    trace file then never wait for the writer. ``fn`` must not raise. Records then reach
    the writer's queue through a function call rather than the direct append. The next
    ``configure()`` or ``shutdown()`` removes the tap. False when spanwise is off.

    ``instead_of_summary``: ``fn`` replaces the aggregator behind ``spanwise.summary()``
    (for a consumer that keeps its own totals; the summary then stays empty). In metrics
    mode ``fn`` then gets the records in its place; in trace mode the pipeline still gets
    every record, and its writer no longer feeds the aggregator."""
    with _lock:
        downstream = RT.emit
        if downstream is None:
            return False
        RT.queue = None  # the C and Python span ends append to it directly otherwise
        if instead_of_summary:
            if RT.mode == "metrics":
                RT.emit = fn
                return True
            pipeline = STATE.pipeline
            if pipeline is not None:  # a new list: the writer may be iterating the old one
                aggregator = STATE.aggregator
                pipeline.processors = [p for p in pipeline.processors if p is not aggregator]

        def tee(record: Any) -> None:
            fn(record)
            downstream(record)

        RT.emit = tee
        return True


def _detach() -> None:
    RT.queue = None
    RT.emit = None


def _stop_current() -> None:
    pipeline = STATE.pipeline
    _detach()
    RT.mode = "off"
    STATE.pipeline = None
    if pipeline is not None:
        pipeline.shutdown(5.0)


def flush(timeout: float | None = 10.0) -> bool:
    """Write everything recorded so far; True when it finished within ``timeout``."""
    pipeline = STATE.pipeline
    if pipeline is None:
        return True
    return bool(pipeline.flush(timeout))


def nudge() -> None:
    """Have the writer start on what is queued now, without waiting for it."""
    pipeline = STATE.pipeline
    if pipeline is not None:
        pipeline.nudge()


def wind_down() -> None:
    """Have the writer export what is queued and close the store and the other sinks in
    the background; ``shutdown()`` then only waits for it. For a program whose records
    are all emitted and that has other work to do before it exits (``spanwise run``
    writing its trace file)."""
    pipeline = STATE.pipeline
    if pipeline is not None:
        pipeline.wind_down()


def shutdown(timeout: float | None = 10.0) -> bool:
    """Flush and stop; records emitted afterwards are dropped and counted as ``shutdown``."""
    with _lock:
        pipeline = STATE.pipeline
        if pipeline is None:
            _detach()
            return True
        RT.queue = None
        RT.emit = pipeline.drop_after_shutdown
        return bool(pipeline.shutdown(timeout))


def summary() -> dict[str, Any]:
    """Totals of this process's run since ``configure()``: duration, spans, LLM calls,
    tokens by kind, cost (``None`` when any model is unpriced), time per span name."""
    if STATE.pipeline is not None:
        STATE.pipeline.flush()
    aggregator = STATE.aggregator
    if aggregator is None:
        from spanwise._pricing import Pricer
        from spanwise._summary import Aggregator

        aggregator = Aggregator(Pricer())
    result: dict[str, Any] = aggregator.summary()
    return result


def status() -> dict[str, Any]:
    settings = STATE.settings
    pipeline = STATE.pipeline
    return {
        "mode": RT.mode,
        "mode_source": settings.mode_source if settings else "default",
        "home": str(settings.home) if settings else None,
        "store": settings.store if settings else None,
        "session": RT.session,
        "capture_content": RT.capture_content,
        "pipeline": pipeline.stats() if pipeline is not None else None,
        "exporters": pipeline.exporter_stats() if pipeline is not None else {},
        "internal_errors": _internal.counts(),
    }


def _at_exit() -> None:
    try:
        pipeline = STATE.pipeline
        if pipeline is not None and pipeline._pid == os.getpid():
            shutdown(5.0)
    except Exception as exc:  # noqa: BLE001
        _internal.report("atexit", exc)


def configure_from_environment() -> None:
    """At import: honour SPANWISE_MODE or a persisted mode; a bad value warns and stays off."""
    env_mode = os.environ.get("SPANWISE_MODE")
    if not env_mode:
        home = os.environ.get("SPANWISE_HOME") or "~/.spanwise"
        if not os.path.exists(os.path.join(os.path.expanduser(home), "config.toml")):
            return
    from spanwise._settings import ConfigError, resolve

    try:
        settings = resolve()
        if settings.mode != "off":
            configure()
    except (ConfigError, OSError) as exc:
        warnings.warn(f"spanwise: {exc}; tracing is off", stacklevel=2)
    except Exception as exc:  # noqa: BLE001 - importing spanwise must never break the host
        _internal.report("configure_from_environment", exc)
