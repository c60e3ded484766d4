"""OpenTelemetry in and out.

- In: ``SpanwiseProcessor``, an OpenTelemetry SDK ``SpanProcessor`` that records the spans
  of any OpenTelemetry-instrumented code (GenAI, OpenInference, OpenLLMetry) in spanwise,
  LLM calls with typed tokens and cost.
- Out: an OTLP/HTTP (protobuf) sink, added beside the store when ``SPANWISE_OTLP_ENDPOINT``
  or ``configure(otlp_endpoint=…)`` is set.

Importing this package imports only the standard library; the OpenTelemetry packages
(``pip install 'spanwise[otel]'``) load when a processor or the sink is created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spanwise._setup import PIPELINE_EXTENSIONS

if TYPE_CHECKING:
    from spanwise._export import Exporter, Processor
    from spanwise._settings import Settings
    from spanwise.otel._exporter import OtlpExporter, exporter_stats
    from spanwise.otel._processor import SpanwiseProcessor

__all__ = ["OtlpExporter", "SpanwiseProcessor", "exporter_stats"]


_HINT = "pip install 'spanwise[otel]'"


def __getattr__(name: str) -> Any:
    if name == "SpanwiseProcessor":
        try:
            from spanwise.otel._processor import SpanwiseProcessor
        except ImportError as exc:
            raise ImportError(
                f"spanwise.otel.SpanwiseProcessor needs the OpenTelemetry SDK: {_HINT}",
                name=exc.name,
            ) from None
        return SpanwiseProcessor
    if name in ("OtlpExporter", "exporter_stats"):
        from spanwise.otel import _exporter

        return getattr(_exporter, name)
    raise AttributeError(f"module 'spanwise.otel' has no attribute {name!r}")


def _otlp_extension(settings: Settings) -> tuple[list[Processor], list[Exporter]]:
    """Pipeline extension: the OTLP sink when an endpoint is configured."""
    if not settings.otlp_endpoint:
        return [], []
    import importlib.util

    from spanwise._settings import ConfigError
    from spanwise.otel._exporter import OtlpExporter

    try:
        found = importlib.util.find_spec("opentelemetry.proto") is not None
    except ImportError:
        found = False
    if not found:
        raise ConfigError(f"the OTLP sink (SPANWISE_OTLP_ENDPOINT) needs: {_HINT}")

    return [], [OtlpExporter(settings.otlp_endpoint)]


if _otlp_extension not in PIPELINE_EXTENSIONS:
    PIPELINE_EXTENSIONS.append(_otlp_extension)
