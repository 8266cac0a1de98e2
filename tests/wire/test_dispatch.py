"""`Dispatcher.dispatch` and `Dispatcher.handle` without a model call: the version rule, capability
negotiation, JSON-RPC error shapes, session bookkeeping and the agent lifecycle (SPEC §10.2-10.3).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from amplifier_agent.config.paths import layout, workspace_slug
from amplifier_agent.engine import HostConfig, parse_host_config
from amplifier_agent.wire.dispatch import Dispatcher
from amplifier_agent.wire.events import DISPLAY_EVENT_TYPES
from amplifier_agent.wire.protocol import PROTOCOL_VERSION, RpcError

ALL_CAPS = {
    "approval": {"actions": ["cancel", "accept", "decline"]},
    "display": {"events": list(DISPLAY_EVENT_TYPES)},
}


def init_params(**extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "protocolVersion": PROTOCOL_VERSION,
        "clientInfo": {"name": "tests", "version": "1"},
        "capabilities": ALL_CAPS,
    }
    params.update(extra)
    return params


async def rpc_error(engine: Dispatcher, method: str, params: Any = None) -> RpcError:
    with pytest.raises(RpcError) as caught:
        await engine.dispatch(method, params)
    return caught.value


@pytest.fixture
def engine(tmp_path: Path) -> Dispatcher:
    return Dispatcher(HostConfig(), cwd=tmp_path)


def test_the_protocol_version_is_re_exported() -> None:
    assert PROTOCOL_VERSION == "0.3.0"


@pytest.mark.parametrize("received", ["0.2.0", "0.3.1", "0.3", " 0.3.0", "0.3.0-rc1"])
async def test_a_version_mismatch_names_both_versions(engine: Dispatcher, received: str) -> None:
    error = await rpc_error(engine, "initialize", init_params(protocolVersion=received))

    assert error.code == -32000
    assert error.data is not None
    assert error.data["code"] == "protocol_version_mismatch"
    assert error.data["clientVersion"] == received
    assert error.data["serverVersion"] == "0.3.0"
    assert error.data["classification"] == "protocol"
    assert "allowProtocolSkew" in error.data["remediation"]
    assert not {"expected", "received"} & set(error.data)


async def test_only_allow_protocol_skew_true_overrides(tmp_path: Path) -> None:
    strict = Dispatcher(parse_host_config({"allowProtocolSkew": False}), cwd=tmp_path)
    lenient = Dispatcher(parse_host_config({"allowProtocolSkew": True}), cwd=tmp_path)

    error = await rpc_error(strict, "initialize", init_params(protocolVersion="0.2.0"))
    result = await lenient.dispatch("initialize", init_params(protocolVersion="0.2.0"))

    assert error.data is not None and error.data["code"] == "protocol_version_mismatch"
    assert result["serverInfo"] == {"name": "amplifier-agent", "version": "0.8.0"}


async def test_the_initialize_param_allows_skew_without_host_config(engine: Dispatcher) -> None:
    skewed = init_params(protocolVersion="0.2.0", allowProtocolSkew=True)
    refused = init_params(protocolVersion="0.2.0", allowProtocolSkew=False)

    error = await rpc_error(engine, "initialize", refused)
    result = await engine.dispatch("initialize", skewed)

    assert error.data is not None and error.data["code"] == "protocol_version_mismatch"
    assert result["serverInfo"] == {"name": "amplifier-agent", "version": "0.8.0"}


async def test_a_non_boolean_allow_protocol_skew_param_is_invalid(engine: Dispatcher) -> None:
    params = init_params(protocolVersion="0.2.0", allowProtocolSkew="yes")

    error = await rpc_error(engine, "initialize", params)

    assert error.code == -32602
    assert error.data is not None and "allowProtocolSkew" in error.data["message"]


async def test_a_missing_mcp_config_path_warns_and_the_session_opens(
    engine: Dispatcher, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "no-such-mcp.json"

    result = await engine.dispatch("initialize", init_params(mcpConfigPath=str(missing)))

    assert result["sessionState"]["resumed"] is False
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert [str(missing) in r.getMessage() for r in warnings] == [True]
    assert "without MCP servers" in warnings[0].getMessage()


async def test_without_a_host_config_the_engine_loads_it_like_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "host_config.json"
    path.write_text(json.dumps({"allowProtocolSkew": True}))
    monkeypatch.setenv("AMPLIFIER_AGENT_CONFIG", str(path))

    result = await Dispatcher(cwd=tmp_path).dispatch("initialize", init_params(protocolVersion="9"))

    assert result["sessionState"]["resumed"] is False


async def test_a_broken_host_config_is_a_config_validation_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "host_config.json"
    path.write_text("{not json")
    monkeypatch.setenv("AMPLIFIER_AGENT_CONFIG", str(path))

    error = await rpc_error(Dispatcher(cwd=tmp_path), "initialize", init_params())

    assert error.code == -32602
    assert error.data is not None and error.data["code"] == "config_validation"
    assert "config_malformed_json" in error.message


@pytest.mark.parametrize(
    ("client", "actions", "events"),
    [
        (ALL_CAPS, ["accept", "cancel", "decline"], sorted(DISPLAY_EVENT_TYPES)),
        ({}, [], []),
        ({"approval": {"actions": ["decline", "nod"]}}, ["decline"], []),
        ({"display": {"events": ["usage", "error", "telepathy"]}}, [], ["error", "usage"]),
    ],
)
async def test_capabilities_are_the_sorted_intersection(
    engine: Dispatcher, client: dict[str, Any], actions: list[str], events: list[str]
) -> None:
    result = await engine.dispatch("initialize", init_params(capabilities=client))

    assert result["capabilities"] == {
        "approval": {"actions": actions},
        "display": {"events": events},
    }
    assert list(engine.capabilities.display_events) == events


@pytest.mark.parametrize(
    "params",
    [
        init_params(protocolVersion=3),
        init_params(capabilities=[]),
        init_params(capabilities={"approval": {"actions": "accept"}}),
        init_params(clientInfo="tests"),
        init_params(sessionId=7),
        init_params(resume="yes"),
        init_params(cwd="/definitely/not/a/directory"),
        init_params(providerOverride={"module": "auto"}),
        init_params(providerOverride={"module": "anthropic", "config": []}),
        init_params(providerOverride={"module": "anthropic", "model": "x"}),
        init_params(providerOverride={"config": {}}),
        init_params(providerOverride={"module": "anthropic", "config": {"max_tokens": 0}}),
        {"clientInfo": {"name": "tests"}},
    ],
)
async def test_bad_initialize_params_are_invalid_params(
    engine: Dispatcher, params: dict[str, Any]
) -> None:
    error = await rpc_error(engine, "initialize", params)

    assert error.code == -32602
    assert error.data is not None and error.data["code"] == "config_validation"
    assert (await rpc_error(engine, "cache/info")).data == {
        "code": "agent_not_ready",
        "classification": "engine",
        "message": "call initialize first",
    }


async def test_initialize_mints_a_session_in_the_cwd_workspace(
    engine: Dispatcher, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()

    result = await engine.dispatch("initialize", init_params(cwd=str(project)))

    session_id = result["sessionState"]["sessionId"]
    assert re.fullmatch(r"sess-[0-9a-f]{12}", session_id)
    directory = layout().sessions_dir(workspace_slug(project)) / session_id
    assert json.loads((directory / "metadata.json").read_text())["cwd"] == str(project.resolve())


async def test_initialize_resume_requires_an_existing_session(engine: Dispatcher) -> None:
    error = await rpc_error(engine, "initialize", init_params(sessionId="nowhere", resume=True))

    assert error.code == -32000
    assert error.data is not None and error.data["code"] == "session_not_found"
    assert (await rpc_error(engine, "cache/info")).data is not None


async def test_initialize_rejects_a_traversing_session_id(engine: Dispatcher) -> None:
    error = await rpc_error(engine, "initialize", init_params(sessionId="../../etc"))

    assert error.code == -32000
    assert error.data is not None and error.data["code"] == "invalid_session"


async def test_sessions_are_created_once_and_ended_once(engine: Dispatcher, tmp_path: Path) -> None:
    await engine.dispatch("initialize", init_params())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    created = await engine.dispatch("session/create", {"sessionId": "s-1", "cwd": str(elsewhere)})
    again = await rpc_error(engine, "session/create", {"sessionId": "s-1"})
    ended = await engine.dispatch("session/end", {"sessionId": "s-1"})
    twice = await rpc_error(engine, "session/end", {"sessionId": "s-1"})
    recreate = await rpc_error(engine, "session/create", {"sessionId": "s-1"})

    assert created == {"sessionId": "s-1"}
    assert again.data is not None and again.data["code"] == "invalid_session"
    assert ended == {"sessionId": "s-1", "ended": True}
    assert twice.data is not None and twice.data["code"] == "stale_session"
    assert recreate.data is not None and recreate.data["code"] == "invalid_session"
    metadata = layout().sessions_dir(workspace_slug(tmp_path)) / "s-1" / "metadata.json"
    assert json.loads(metadata.read_text())["cwd"] == str(elsewhere.resolve())


async def test_session_create_rejects_a_missing_cwd(engine: Dispatcher) -> None:
    await engine.dispatch("initialize", init_params())

    error = await rpc_error(engine, "session/create", {"cwd": "/definitely/not/here"})

    assert error.code == -32602


async def test_cache_info_lists_cached_model_lists(engine: Dispatcher) -> None:
    cache = layout().models_cache_dir
    cache.mkdir(parents=True)
    (cache / "anthropic.json").write_text(
        json.dumps({"fetched_at": "2026-01-01T00:00:00Z", "models": [{"id": "m", "created": 1}]})
    )
    await engine.dispatch("initialize", init_params())

    info = await engine.dispatch("cache/info", {})

    assert info == {
        "root": str(layout().root / "cache"),
        "models": [{"provider": "anthropic", "fetched_at": "2026-01-01T00:00:00Z", "count": 1}],
    }


async def test_shutdown_makes_every_later_call_agent_not_ready(engine: Dispatcher) -> None:
    await engine.dispatch("initialize", init_params(sessionId="s-open"))

    assert await engine.dispatch("agent/shutdown", {}) == {}
    for method, params in [
        ("initialize", init_params()),
        ("cache/info", {}),
        ("session/create", {}),
        ("turn/submit", {"sessionId": "s-open", "turnId": "t1", "prompt": "hi"}),
        ("turn/cancel", {"sessionId": "s-open"}),
        ("agent/shutdown", {}),
    ]:
        error = await rpc_error(engine, method, params)
        assert error.data is not None and error.data["code"] == "agent_not_ready", method


async def test_unknown_methods_are_method_not_found_even_before_initialize(
    engine: Dispatcher,
) -> None:
    error = await rpc_error(engine, "turn/interrupt", {})

    assert error.code == -32601
    assert error.data is None


@pytest.mark.parametrize(
    "message",
    [
        [],
        "initialize",
        {"id": 1, "method": "initialize"},
        {"jsonrpc": "2.0", "id": 1},
        {"jsonrpc": "2.0", "id": 1, "method": ""},
        {"jsonrpc": "2.0", "id": True, "method": "cache/info"},
        {"jsonrpc": "2.0", "id": {"n": 1}, "method": "cache/info"},
    ],
)
async def test_malformed_requests_are_wire_protocol_violations(
    engine: Dispatcher, message: Any
) -> None:
    response = await engine.handle(message)

    assert response is not None
    assert response["jsonrpc"] == "2.0"
    assert response["error"]["code"] == -32600
    assert response["error"]["data"]["code"] == "wire_protocol_violation"
    usable_id = isinstance(message, dict) and type(message.get("id")) in (int, str)
    assert response["id"] == (message["id"] if usable_id else None)
    assert response["id"] is not True


async def test_handle_answers_requests_and_stays_silent_for_notifications(
    engine: Dispatcher,
) -> None:
    answered = await engine.handle(
        {"jsonrpc": "2.0", "id": "a", "method": "initialize", "params": init_params()}
    )
    silent = await engine.handle({"jsonrpc": "2.0", "method": "cache/info"})
    silent_error = await engine.handle({"jsonrpc": "2.0", "method": "no/such"})
    failed = await engine.handle({"jsonrpc": "2.0", "id": 0, "method": "no/such"})

    assert answered is not None and answered["id"] == "a" and "result" in answered
    assert silent is None and silent_error is None
    assert failed == {
        "jsonrpc": "2.0",
        "id": 0,
        "error": {"code": -32601, "message": "method not found: no/such"},
    }


async def test_turn_submit_params_are_checked_before_the_turn(engine: Dispatcher) -> None:
    await engine.dispatch("initialize", init_params(sessionId="s-params"))
    base = {"sessionId": "s-params", "turnId": "turn-1", "prompt": "hi"}

    for change in [
        {"turnId": "has space"},
        {"turnId": ""},
        {"prompt": None},
        {"attachments": "file.txt"},
        {"attachments": [{"type": "image", "url": "x"}]},
        {"attachments": [{"type": "text", "text": "a", "name": 3}]},
    ]:
        error = await rpc_error(engine, "turn/submit", {**base, **change})
        assert error.code == -32602, change
    empty = await rpc_error(engine, "turn/submit", {**base, "prompt": ""})
    assert empty.code == -32000
    assert empty.data is not None and empty.data["code"] == "prompt_required"
