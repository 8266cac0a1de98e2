"""Turn, model-call and tool-call spans through the OpenTelemetry SDK and its OTLP/HTTP exporter,
with the GenAI semantic-convention attributes. Imported only when tracing is on.

Prompt and completion text reach a span only with `CAPTURE_CONTENT_ENV=true`.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from amplifier_agent.core.errors import AmplifierError, ProviderError
from amplifier_agent.core.messages import UserMessage
from amplifier_agent.core.observe import ModelCallInfo, ToolCallInfo, ToolOutcome
from amplifier_agent.core.stream import CallDone, StreamEvent
from amplifier_agent.core.usage import Usage
from amplifier_agent.engine.tracing import CAPTURE_CONTENT_ENV, TRACEPARENT_ENV, TRACESTATE_ENV
from amplifier_agent.engine.turn_types import TurnReport, TurnSetup

AGENT_NAME = "amplifier-agent"
SCOPE = "amplifier_agent"
#: Our provider modules by the `gen_ai.provider.name` values the conventions define.
_PROVIDER_NAMES = {"azure-openai": "azure.ai.openai"}
_PROPAGATOR = TraceContextTextMapPropagator()


class OtelTurnTracer:
    def __init__(self, tracer: Tracer, capture_content: bool) -> None:
        self._tracer = tracer
        self._capture = capture_content

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> OtelTurnTracer:
        """An OTLP/HTTP exporter configured by the standard `OTEL_*` variables, batched."""
        defaults = {} if env.get("OTEL_SERVICE_NAME") else {"service.name": AGENT_NAME}
        provider = TracerProvider(resource=Resource.create(defaults))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        capture = env.get(CAPTURE_CONTENT_ENV, "").strip().lower() == "true"
        return cls(provider.get_tracer(SCOPE), capture)

    @contextmanager
    def turn(self, setup: TurnSetup) -> Iterator[OtelTurn]:
        attributes: dict[str, str] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": AGENT_NAME,
            "gen_ai.provider.name": provider_name(setup.active.module),
            "amplifier.face": setup.face,
            "amplifier.turn_id": setup.turn_id,
        }
        if setup.model:
            attributes["gen_ai.request.model"] = setup.model
        if setup.session is not None:
            attributes["gen_ai.conversation.id"] = setup.session.session_id
        with self._tracer.start_as_current_span(
            f"invoke_agent {AGENT_NAME}",
            context=parent_context(setup.traceparent, setup.tracestate, _environment(setup)),
            kind=SpanKind.INTERNAL,
            attributes=attributes,
        ) as span:
            traced = OtelTurn(self._tracer, span, _modules(setup), self._capture)
            if self._capture:
                span.set_attribute("gen_ai.input.messages", _user_messages(setup))
            yield traced


def parent_context(
    traceparent: str | None, tracestate: str | None, env: Mapping[str, str] | None = None
) -> Context | None:
    """The W3C parent a face was given, else the one in `env` (`TRACEPARENT`, for processes a
    host started); None starts a new trace."""
    if traceparent is None and env is not None:
        traceparent, tracestate = env.get(TRACEPARENT_ENV), env.get(TRACESTATE_ENV)
    if not traceparent:
        return None
    carrier = {"traceparent": traceparent, **({"tracestate": tracestate} if tracestate else {})}
    return _PROPAGATOR.extract(carrier)


def _environment(setup: TurnSetup) -> Mapping[str, str] | None:
    """A server's environment is not any one request's parent: only its headers are."""
    return None if setup.face == "http" else os.environ


def provider_name(module: str) -> str:
    return _PROVIDER_NAMES.get(module, module)


def _modules(setup: TurnSetup) -> dict[str, str]:
    modules = {p.id: p.module for p in setup.host_config.providers or ()}
    modules[setup.active.provider_id] = setup.active.module
    return modules


def _user_messages(setup: TurnSetup) -> str:
    texts = [m.content for m in setup.new_messages if isinstance(m, UserMessage)]
    return json.dumps([_text_message("user", t) for t in texts])


def _text_message(role: str, text: str) -> dict[str, object]:
    return {"role": role, "parts": [{"type": "text", "content": text}]}


@dataclass
class OtelTurn:
    """One turn's span; its model and tool calls become child spans."""

    tracer: Tracer
    span: Span
    modules: dict[str, str]
    capture: bool

    async def model_call(
        self, info: ModelCallInfo, events: AsyncIterator[StreamEvent]
    ) -> AsyncIterator[StreamEvent]:
        module = self.modules.get(info.provider_id, info.provider_id)
        span = self.tracer.start_span(
            f"chat {info.model}",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": provider_name(module),
                "gen_ai.request.model": info.model,
                **({"gen_ai.agent.name": info.agent_name} if info.agent_name else {}),
            },
        )
        try:
            async for event in events:
                if isinstance(event, CallDone):
                    _record_call(span, event)
                yield event
        except GeneratorExit:  # the consumer stopped reading: not the call's failure
            raise
        except BaseException as error:
            _record_error(span, error)
            raise
        finally:
            span.end()

    @contextmanager
    def tool_call(self, info: ToolCallInfo) -> Iterator[ToolOutcome]:
        outcome = ToolOutcome()
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": info.name,
            "gen_ai.tool.call.id": info.call_id,
            "gen_ai.tool.type": "function",
        }
        with self.tracer.start_as_current_span(
            f"execute_tool {info.name}", kind=SpanKind.INTERNAL, attributes=attributes
        ) as span:
            yield outcome
            if outcome.is_error:
                span.set_attribute("error.type", "tool_error")
                span.set_status(Status(StatusCode.ERROR))

    def finish(self, report: TurnReport) -> None:
        span = self.span
        if report.model:
            span.set_attribute("gen_ai.response.model", report.model)
        _set_usage(span, report.usage)
        if report.session_id:
            span.set_attribute("gen_ai.conversation.id", report.session_id)
        if report.error is not None:
            span.set_attribute("error.type", report.error.code)
            span.set_status(Status(StatusCode.ERROR, report.error.code))
        if self.capture and report.error is None:
            span.set_attribute(
                "gen_ai.output.messages", json.dumps([_text_message("assistant", report.reply)])
            )


def _record_call(span: Span, done: CallDone) -> None:
    span.set_attribute("gen_ai.response.model", done.model)
    span.set_attribute("gen_ai.response.finish_reasons", [done.stop_reason])
    _set_usage(span, done.usage)


def _set_usage(span: Span, usage: Usage) -> None:
    # The conventions count cached reads inside `input_tokens` and also on their own.
    span.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
    span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)
    span.set_attribute("gen_ai.usage.cache_read.input_tokens", usage.cache_read_tokens)
    span.set_attribute("gen_ai.usage.cache_creation.input_tokens", usage.cache_write_tokens)


def _record_error(span: Span, error: BaseException) -> None:
    kind: str
    if isinstance(error, ProviderError):
        kind = error.upstream
    elif isinstance(error, AmplifierError):
        kind = error.code
    else:
        kind = type(error).__name__
    span.set_attribute("error.type", kind)
    span.set_status(Status(StatusCode.ERROR, kind))


__all__ = ["OtelTurn", "OtelTurnTracer", "parent_context", "provider_name"]
