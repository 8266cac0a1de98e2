"""Whether this process traces its turns, decided once from the standard OpenTelemetry
environment variables; the SDK is imported only when it does (a cold `run` never pays for it).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Protocol

from amplifier_agent.core.observe import TurnObserver
from amplifier_agent.engine.turn_types import TurnReport, TurnSetup

#: Where `run` and `serve stdio` take their parent trace from (the HTTP face reads the header).
TRACEPARENT_ENV = "TRACEPARENT"
TRACESTATE_ENV = "TRACESTATE"
#: The opt-in, shared with OpenTelemetry's own GenAI instrumentations, for putting prompt and
#: completion text on spans.
CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


class TracedTurn(TurnObserver, Protocol):
    """A turn's span while it runs: observes its model and tool calls, then records its end."""

    def finish(self, report: TurnReport) -> None: ...


class TurnTracer(Protocol):
    def turn(self, setup: TurnSetup) -> AbstractContextManager[TracedTurn]: ...


def tracing_requested(env: Mapping[str, str]) -> bool:
    """Traces are on when an OTLP endpoint is set or `OTEL_TRACES_EXPORTER` names an exporter,
    and off when `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


@functools.cache
def turn_tracer() -> TurnTracer | None:
    """The process's tracer (built on first use), or None when tracing is off."""
    if not tracing_requested(os.environ):
        return None
    from amplifier_agent.engine.tracing_otel import OtelTurnTracer

    return OtelTurnTracer.from_environment(os.environ)


__all__ = ["CAPTURE_CONTENT_ENV", "TRACEPARENT_ENV", "TracedTurn", "TurnTracer", "turn_tracer"]
