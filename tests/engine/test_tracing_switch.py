"""When the standard OpenTelemetry variables turn tracing on, and when they keep it off."""

from __future__ import annotations

import pytest

from amplifier_agent.engine.tracing import tracing_requested
from amplifier_agent.engine.tracing_otel import parent_context, provider_name


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"}, False),
        ({"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"}, True),
    ],
)
def test_tracing_is_on_only_when_asked(env: dict[str, str], on: bool) -> None:
    assert tracing_requested(env) is on


def test_a_malformed_traceparent_starts_a_new_trace() -> None:
    from opentelemetry import trace

    context = parent_context("not-a-traceparent", None)
    assert context is not None
    assert not trace.get_current_span(context).get_span_context().is_valid


def test_azure_is_named_as_the_conventions_name_it() -> None:
    assert provider_name("azure-openai") == "azure.ai.openai"
    assert provider_name("anthropic") == "anthropic"


def test_the_environment_parent_is_used_only_where_the_face_allows() -> None:
    from opentelemetry import trace

    env = {"TRACEPARENT": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    assert parent_context(None, None) is None
    context = parent_context(None, None, env)
    assert context is not None
    span = trace.get_current_span(context).get_span_context()
    assert format(span.trace_id, "032x") == "4bf92f3577b34da6a3ce929d0e0e4736"
