"""`x-amplifier-overhead-ms` through the ASGI app in-process: the engine is scripted to await a
slow upstream stream through the request's observer, as the loop does, so the header must leave
that wait out, even when a keepalive commits the stream while the upstream is still silent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx2
import pytest

from amplifier_agent.core.events import DisplayEvent, ResultDelta
from amplifier_agent.core.observe import ModelCallInfo
from amplifier_agent.core.stream import StreamEvent, TextDelta
from amplifier_agent.core.usage import Usage
from amplifier_agent.engine import ResolvedModel, TurnControl, TurnReport, TurnRequest
from amplifier_agent.engine.usable import ProviderRef
from amplifier_agent.server.app import AgentApp, GateSettings
from amplifier_agent.server.completions import ChatContext

KEY = "aak_test-key"
AUTH = {"authorization": f"Bearer {KEY}"}
UPSTREAM_S = 0.3


async def slow_upstream() -> AsyncIterator[StreamEvent]:
    await asyncio.sleep(UPSTREAM_S)
    yield TextDelta("late")


@dataclass
class SlowUpstreamEngine:
    registry_entries: tuple[()] = ()

    def resolve(self, requested: str) -> ResolvedModel:
        return ResolvedModel(ProviderRef("p", "anthropic"), requested)

    async def chat_turn(
        self,
        turn: TurnRequest,
        emit: Callable[[DisplayEvent], None],
        control: TurnControl | None = None,
    ) -> TurnReport:
        assert turn.observer is not None
        async for event in turn.observer.model_call(ModelCallInfo("p", "m1"), slow_upstream()):
            assert isinstance(event, TextDelta)
            emit(ResultDelta(event.text))
        return TurnReport("", "turn-1", "late", Usage(1, 1), 1)


def client(keepalive_s: float) -> httpx2.AsyncClient:
    context = ChatContext(engine=SlowUpstreamEngine(), keepalive_s=keepalive_s)  # type: ignore[arg-type]
    app = AgentApp(context, GateSettings(api_key=KEY))
    return httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1:9099"
    )


@pytest.mark.parametrize(("stream", "keepalive_s"), [(False, 3.0), (True, 3.0), (True, 0.05)])
async def test_the_upstream_wait_is_not_our_overhead(stream: bool, keepalive_s: float) -> None:
    body = {"model": "m1", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    async with client(keepalive_s) as http:
        response = await http.post("/v1/chat/completions", json=body, headers=AUTH)
    assert response.status_code == 200 and "late" in response.text
    if keepalive_s < UPSTREAM_S:
        # Committed by a keepalive before the upstream spoke.
        assert ": keepalive" in response.text.split("late")[0]
    overhead_ms = float(response.headers["x-amplifier-overhead-ms"])
    elapsed_ms = response.elapsed.total_seconds() * 1000
    # The server's whole time is at most the client's; the upstream took UPSTREAM_S of it.
    assert 0 <= overhead_ms <= elapsed_ms - UPSTREAM_S * 1000 + 1


async def test_refused_chat_requests_carry_it_and_other_routes_do_not() -> None:
    async with client(3.0) as http:
        unauthorised = await http.post("/v1/chat/completions", json={})
        malformed = await http.post("/v1/chat/completions", content=b"{", headers=AUTH)
        health = await http.get("/healthz")
    assert unauthorised.status_code == 401 and malformed.status_code in (400, 415)
    for response in (unauthorised, malformed):
        assert float(response.headers["x-amplifier-overhead-ms"]) >= 0
    assert "x-amplifier-overhead-ms" not in health.headers
