"""Traces, when asked for: with ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, FastAPI, SQLAlchemy and
httpx spans are exported over OTLP/HTTP (the standard ``OTEL_*`` variables configure the
exporter; ``OTEL_SERVICE_NAME`` defaults to ``postex``). Off by default, and then nothing of
OpenTelemetry is imported. The packages are the ``traces`` extra: ``pip install postex[traces]``.

Spans carry route templates, SQL statements with placeholders (never their parameters) and
outgoing URLs; probes (``/healthz``, ``/readyz``, ``/metrics``) are not traced.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI

from postex.kernel.errors import ConfigurationError

EXCLUDED = "healthz,readyz,metrics"


def wanted() -> bool:
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def install(app: FastAPI, engine: Any, exporter: Any = None) -> Any:
    """Instrument ``app``, ``engine`` and httpx; return the tracer provider, or None when
    tracing is off. ``exporter`` (tests: an in-memory one) replaces the OTLP exporter."""
    if exporter is None and not wanted():
        return None
    try:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError:
        raise ConfigurationError(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed: "
            "pip install 'postex[traces]', or unset it"
        ) from None
    name = os.environ.get("OTEL_SERVICE_NAME", "postex")
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls=EXCLUDED)
    # The package declares SQLAlchemy < 2.1; its engine events are the same in 2.1.
    SQLAlchemyInstrumentor().instrument(
        engine=engine, tracer_provider=provider, skip_dep_check=True
    )
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    return provider


def uninstall(app: FastAPI) -> None:
    """Undo :func:`install` (tests)."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    FastAPIInstrumentor.uninstrument_app(app)
    SQLAlchemyInstrumentor().uninstrument()
    HTTPXClientInstrumentor().uninstrument()
