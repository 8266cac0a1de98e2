"""The ASGI app in-process over `httpx2.ASGITransport`, with a scripted engine standing in for
`EngineService`: what the face does with a turn that breaks (an engine bug before and after the
commit), with a draining server, and with CORS (SPEC §8.3, §8.6, §8.7, §8.10).

The engine is scripted (as the loop's tests script a provider) because no real provider can be
made to raise an arbitrary bug; everything from the ASGI boundary to the response is real.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import httpx2
import pytest

from amplifier_agent.core.events import DisplayEvent, ResultDelta
from amplifier_agent.core.registry import Resolution, UnknownModel
from amplifier_agent.core.usage import Usage
from amplifier_agent.engine import TurnControl, TurnReport, TurnRequest
from amplifier_agent.server.app import AgentApp, GateSettings
from amplifier_agent.server.completions import ChatContext

KEY = "aak_test-key"
AUTH = {"authorization": f"Bearer {KEY}"}
BODY = {"model": "m1", "messages": [{"role": "user", "content": "hi"}]}


@dataclass
class ScriptedEngine:
    """Serves model `m1`; each turn emits `texts`, then raises `error` or reports `usage`."""

    texts: tuple[str, ...] = ()
    error: BaseException | None = None
    usage: Usage = field(default_factory=lambda: Usage(10, 5, cost_usd=Decimal("0.001")))
    turns: list[TurnRequest] = field(default_factory=list)
    registry_entries: tuple[()] = ()

    def resolve(self, requested: str) -> Resolution:
        if requested != "m1":
            raise UnknownModel(requested)
        return Resolution("p", requested)

    async def chat_turn(
        self,
        turn: TurnRequest,
        emit: Callable[[DisplayEvent], None],
        control: TurnControl | None = None,
    ) -> TurnReport:
        self.turns.append(turn)
        for text in self.texts:
            emit(ResultDelta(text))
        if self.error is not None:
            raise self.error
        return TurnReport("", "turn-1", "".join(self.texts), self.usage, 1)


def client_for(
    engine: ScriptedEngine, *, draining: bool = False, origins: tuple[str, ...] = ()
) -> httpx2.AsyncClient:
    context = ChatContext(engine=engine, draining=draining)  # type: ignore[arg-type]
    app = AgentApp(context, GateSettings(api_key=KEY, allowed_origins=origins))
    transport = httpx2.ASGITransport(app=app)
    return httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:9099")


def error_of(response: httpx2.Response) -> dict[str, object]:
    body = response.json()
    assert list(body) == ["error"] and set(body["error"]) == {"message", "type", "code", "param"}
    return dict(body["error"])


def sse_chunks(text: str) -> tuple[list[dict[str, object]], str]:
    frames = [f[len("data: ") :] for f in text.split("\n\n") if f.startswith("data: ")]
    return [json.loads(f) for f in frames[:-1]], frames[-1]


async def test_an_engine_bug_after_the_commit_ends_the_stream_in_band() -> None:
    engine = ScriptedEngine(texts=("partial ",), error=RuntimeError("secret detail"))
    async with client_for(engine) as client:
        response = await client.post("/v1/chat/completions", json=BODY, headers=AUTH)
    assert response.status_code == 200
    chunks, last = sse_chunks(response.text)
    assert last == "[DONE]"
    contents = [c["choices"][0]["delta"].get("content") for c in chunks]  # type: ignore[index]
    assert contents[1] == "partial "
    assert contents[2] == "\n\n[amplifier-agent error: internal: internal server error]\n"
    assert chunks[-1]["error"] == {"code": "internal", "message": "internal server error"}
    assert "secret detail" not in response.text


@pytest.mark.parametrize("stream", [True, False])
async def test_an_engine_bug_before_any_content_is_a_clean_500(stream: bool) -> None:
    engine = ScriptedEngine(error=KeyError("secret detail"))
    async with client_for(engine) as client:
        body = {**BODY, "stream": stream}
        response = await client.post("/v1/chat/completions", json=body, headers=AUTH)
    assert response.status_code == 500
    error = error_of(response)
    assert (error["code"], error["type"]) == ("internal", "server_error")
    assert "secret detail" not in response.text and "Traceback" not in response.text
    assert response.headers["x-request-id"]


async def test_a_draining_server_refuses_new_turns_after_validating_them() -> None:
    engine = ScriptedEngine(texts=("never",))
    async with client_for(engine, draining=True) as client:
        refused = await client.post("/v1/chat/completions", json=BODY, headers=AUTH)
        malformed = await client.post(
            "/v1/chat/completions",
            content=b"{",
            headers={**AUTH, "content-type": "application/json"},
        )
        models = await client.get("/v1/models", headers=AUTH)
    assert refused.status_code == 503 and error_of(refused)["code"] == "server_shutting_down"
    assert error_of(refused)["type"] == "server_error"
    assert malformed.status_code == 400 and error_of(malformed)["code"] == "invalid_json"
    assert models.status_code == 200
    assert engine.turns == []


async def test_cors_only_for_configured_origins() -> None:
    engine = ScriptedEngine(texts=("ok",))
    app_origin = "https://app.example"
    async with client_for(engine, origins=(app_origin,)) as client:
        preflight = await client.options(
            "/v1/chat/completions",
            headers={"origin": app_origin, "access-control-request-method": "POST"},
        )
        allowed = await client.get("/v1/models", headers={**AUTH, "origin": app_origin})
        loopback = await client.get(
            "/v1/models", headers={**AUTH, "origin": "http://localhost:3000"}
        )
        anonymous_options = await client.options(
            "/v1/models", headers={"origin": "http://localhost:3000"}
        )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == app_origin
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert allowed.headers["access-control-allow-origin"] == app_origin
    assert allowed.headers["vary"].lower() == "origin"
    # A loopback page may call, but gets no CORS grant (and `*` is never sent).
    assert loopback.status_code == 200 and "access-control-allow-origin" not in loopback.headers
    assert anonymous_options.status_code == 401


async def test_unsupported_media_type_is_checked_before_the_body() -> None:
    engine = ScriptedEngine(texts=("ok",))
    async with client_for(engine) as client:
        wrong = await client.post(
            "/v1/chat/completions", content=b"{", headers={**AUTH, "content-type": "text/plain"}
        )
        suffixed = await client.post(
            "/v1/chat/completions",
            content=json.dumps({**BODY, "stream": False}).encode(),
            headers={**AUTH, "content-type": "application/vnd.api+json; charset=utf-8"},
        )
    assert wrong.status_code == 415 and error_of(wrong)["code"] == "unsupported_media_type"
    assert (
        suffixed.status_code == 200 and suffixed.json()["choices"][0]["message"]["content"] == "ok"
    )
    usage = suffixed.json()["usage"]
    assert usage == {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "prompt_tokens_details": {"cached_tokens": 0},
        "cost_usd": "0.001",
    }
