"""The server's Prometheus metrics, in a registry of its own (never the process-global one).

Every label value comes from the served registry, the configuration or our own codes: a string a
client controls (a model name it made up, a session id, a tool name it declared) never becomes
a label, so no request can grow the number of series.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from amplifier_agent.core.usage import Usage

CONTENT_TYPE = CONTENT_TYPE_LATEST.encode()
#: The routes we serve; any other path is counted as `other`.
ROUTES = frozenset({"/healthz", "/metrics", "/v1/models", "/v1/chat/completions", "/v1/responses"})
MODEL_ROUTE = "/v1/models/{id}"
RESPONSE_ROUTE = "/v1/responses/{id}"
OTHER = "other"
#: Seconds; from a sub-millisecond overhead to a many-minute agent turn.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)
_TOKEN_KINDS = ("input", "output", "cache_read", "cache_write")


def route_label(path: str) -> str:
    if path in ROUTES:
        return path
    if path.startswith("/v1/models/"):
        return MODEL_ROUTE
    if path.startswith("/v1/responses/"):
        return RESPONSE_ROUTE
    return OTHER


@dataclass(frozen=True, slots=True)
class ModelLabels:
    """A resolved model: the provider id from the config and the model id from its listing."""

    provider: str
    model: str


@dataclass(frozen=True, slots=True)
class _ModelSeries:
    ttft: Histogram
    turn_duration: Histogram
    tokens: tuple[Counter, ...]
    cost: Counter
    host_round_trips: Counter


class ServerMetrics:
    """What `GET /metrics` exposes (docs/operations.md lists each series)."""

    def __init__(self, in_flight: Callable[[], int]) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self._by_model: dict[ModelLabels, _ModelSeries] = {}
        self._requests: dict[tuple[str, int, ModelLabels | None], Counter] = {}
        prefix = "amplifier_agent_"
        self.requests = Counter(
            prefix + "http_requests",
            "HTTP requests answered, by route, status and resolved model.",
            ("route", "status", "provider", "model"),
            registry=registry,
        )
        turns = Gauge(prefix + "turns_in_flight", "Chat turns running now.", registry=registry)
        turns.set_function(lambda: float(in_flight()))
        model = ("provider", "model")
        self.ttft = Histogram(
            prefix + "time_to_first_token_seconds",
            "From the request's arrival to the upstream's first text token.",
            model,
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.turn_duration = Histogram(
            prefix + "turn_duration_seconds",
            "From the request's arrival to the end of its response.",
            model,
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.overhead = Histogram(
            prefix + "overhead_seconds",
            "The server's own time per chat request: its whole time minus upstream waits and "
            "built-in tool runs.",
            buckets=_OVERHEAD_BUCKETS,
            registry=registry,
        )
        self.tokens = Counter(
            prefix + "tokens",
            "Tokens of model calls (sub-agents' included), by kind.",
            (*model, "kind"),
            registry=registry,
        )
        self.cost = Counter(
            prefix + "cost_usd",
            "Priced cost of model calls in US dollars (calls without a known price add 0).",
            model,
            registry=registry,
        )
        self.upstream_errors = Counter(
            prefix + "upstream_errors",
            "Failed model calls by our upstream error code.",
            ("provider", "code"),
            registry=registry,
        )
        self.stalls = Counter(
            prefix + "stall_watchdog_firings",
            "Model calls ended because the upstream sent nothing for the stall timeout.",
            ("provider",),
            registry=registry,
        )
        self.tool_calls = Counter(
            prefix + "tool_calls",
            "Tool calls the server ran, by tool (`other`: a name the model made up) and outcome.",
            ("tool", "outcome"),
            registry=registry,
        )
        self.host_round_trips = Counter(
            prefix + "host_tool_round_trips",
            "Responses that handed tool calls back to the client to run.",
            model,
            registry=registry,
        )
        self.lock_conflicts = Counter(
            prefix + "session_lock_conflicts",
            "Requests refused (409) because their session was busy with another request.",
            registry=registry,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def request_answered(self, path: str, status: int, labels: ModelLabels | None) -> None:
        key = (path, status, labels)
        child = self._requests.get(key)
        if child is None:
            provider, model = (labels.provider, labels.model) if labels else ("", "")
            child = self.requests.labels(route_label(path), str(status), provider, model)
            # Only served paths are kept: any other path is one more `other` and no new key.
            if path in ROUTES or labels is not None:
                self._requests[key] = child
        child.inc()

    def turn_ended(self, labels: ModelLabels, duration_s: float, overhead_s: float) -> None:
        self._series(labels).turn_duration.observe(duration_s)
        self.overhead.observe(overhead_s)

    def first_token(self, labels: ModelLabels, after_s: float) -> None:
        self._series(labels).ttft.observe(after_s)

    def host_round_trip(self, labels: ModelLabels) -> None:
        self._series(labels).host_round_trips.inc()

    def tool_called(self, tool: str, is_error: bool) -> None:
        self.tool_calls.labels(tool, "error" if is_error else "ok").inc()

    def add_usage(self, labels: ModelLabels, usage: Usage) -> None:
        series = self._series(labels)
        counts = (
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_tokens,
            usage.cache_write_tokens,
        )
        for child, count in zip(series.tokens, counts, strict=True):
            if count:
                child.inc(count)
        if usage.cost_usd:
            series.cost.inc(float(usage.cost_usd))

    def _series(self, labels: ModelLabels) -> _ModelSeries:
        """One model's children, looked up once: `labels()` costs microseconds per call, and
        the model labels come from the served registry, so this map stays small."""
        series = self._by_model.get(labels)
        if series is None:
            provider, model = labels.provider, labels.model
            series = _ModelSeries(
                ttft=self.ttft.labels(provider, model),
                turn_duration=self.turn_duration.labels(provider, model),
                tokens=tuple(self.tokens.labels(provider, model, k) for k in _TOKEN_KINDS),
                cost=self.cost.labels(provider, model),
                host_round_trips=self.host_round_trips.labels(provider, model),
            )
            self._by_model[labels] = series
        return series

    def upstream_error(self, provider: str, code: str) -> None:
        self.upstream_errors.labels(provider, code).inc()
        if code == "upstream_timeout":
            self.stalls.labels(provider).inc()


__all__ = ["CONTENT_TYPE", "ModelLabels", "ServerMetrics", "route_label"]
