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
    from spanwise.otel._processor import SpanwiseProcessor

__all__ = ["SpanwiseProcessor"]


def __getattr__(name: str) -> Any:
    if name == "SpanwiseProcessor":
        from spanwise.otel._processor import SpanwiseProcessor

        return SpanwiseProcessor
    raise AttributeError(f"module 'spanwise.otel' has no attribute {name!r}")


def _otlp_extension(settings: Settings) -> tuple[list[Processor], list[Exporter]]:
    """Pipeline extension: the OTLP sink when an endpoint is configured."""
    if not settings.otlp_endpoint:
        return [], []
    from spanwise.otel._exporter import OtlpExporter

    return [], [OtlpExporter(settings.otlp_endpoint)]


if _otlp_extension not in PIPELINE_EXTENSIONS:
    PIPELINE_EXTENSIONS.append(_otlp_extension)
