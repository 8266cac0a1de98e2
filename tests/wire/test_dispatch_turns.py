"""`turn/submit` against the fake Anthropic upstream: what is persisted, approval in dispatch
turns, attachments, failures, the session lock and shutdown during a turn (SPEC §10.3, §6.3)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from amplifier_agent.config.paths import layout, workspace_slug
from amplifier_agent.engine import HostConfig, parse_host_config
from amplifier_agent.wire.dispatch import Dispatcher
from amplifier_agent.wire.events import DISPLAY_EVENT_TYPES
from amplifier_agent.wire.protocol import PROTOCOL_VERSION, RpcError
from testkit import FakeUpstream, Reply, reply_text, reply_tool_calls

MODEL = "claude-sonnet-4-5-20250929"


@pytest.fixture(autouse=True)
def anthropic_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")


class Host:
    """A Dispatcher plus every notification it delivered."""

    def __init__(self, fake: FakeUpstream, cwd: Path, config: dict[str, Any] | None = None):
        self.fake = fake
        self.cwd = cwd
        self.notes: list[dict[str, Any]] = []
        self.engine = Dispatcher(parse_host_config(config or {}), notify=self.notes.append, cwd=cwd)

    async def start(self, session_id: str = "s-1", **extra: Any) -> dict[str, Any]:
        params: dict[str, Any] = {
            "protocolVersion": PROTOCOL_VERSION,
            "clientInfo": {"name": "tests", "version": "1"},
            "capabilities": {"display": {"events": list(DISPLAY_EVENT_TYPES)}},
            "sessionId": session_id,
            "providerOverride": {
                "module": "anthropic",
                "config": {"base_url": self.fake.url, "default_model": MODEL},
            },
        }
        params.update(extra)
        result: dict[str, Any] = await self.engine.dispatch("initialize", params)
        return result

    async def submit(self, prompt: str, turn_id: str = "turn-1", **extra: Any) -> dict[str, Any]:
        params = {"sessionId": "s-1", "turnId": turn_id, "prompt": prompt, **extra}
        result: dict[str, Any] = await self.engine.dispatch("turn/submit", params)
        return result

    def methods(self) -> list[str]:
        return [note["method"] for note in self.notes]

    def tool_result(self, name: str) -> dict[str, Any]:
        return next(
            n["params"]
            for n in self.notes
            if n["method"] == "tool/completed" and n["params"]["name"] == name
        )


@pytest.fixture
def host(fake_upstream: FakeUpstream, tmp_path: Path) -> Host:
    return Host(fake_upstream, tmp_path)


def session_dir(cwd: Path, session_id: str = "s-1") -> Path:
    return layout().sessions_dir(workspace_slug(cwd)) / session_id


async def test_a_turn_is_persisted_and_recorded_as_a_dispatch_turn(host: Host) -> None:
    host.fake.enqueue(reply_text("Stored."))
    await host.start()

    result = await host.submit("Remember this.", turn_id="client-turn-7")

    assert result == {
        "reply": "Stored.",
        "turnId": "client-turn-7",
        "sessionId": "s-1",
        "finalEvent": host.notes[-1],
    }
    assert host.notes[-1]["method"] == "result/final"
    lines = (session_dir(host.cwd) / "transcript.jsonl").read_text().splitlines()
    assert [json.loads(line)["role"] for line in lines] == ["user", "assistant"]
    metadata = json.loads((session_dir(host.cwd) / "metadata.json").read_text())
    assert metadata["turns"] == 1 and metadata["last_turn"] == "complete"
    (record,) = [json.loads(line) for line in layout().usage_ledger.read_text().splitlines()]
    assert record["face"] == "dispatch"
    assert (record["sessionId"], record["turnId"]) == ("s-1", "client-turn-7")
    assert record["status"] == "completed"


async def test_a_resumed_session_sends_its_history_to_the_model(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    fake_upstream.enqueue(reply_text("First."), reply_text("Second."))
    first = Host(fake_upstream, tmp_path)
    await first.start()
    await first.submit("The number is 7.")

    second = Host(fake_upstream, tmp_path)
    state = (await second.start(resume=True))["sessionState"]
    await second.submit("Which number?", turn_id="turn-2")

    assert state == {"sessionId": "s-1", "resumed": True}
    messages = fake_upstream.model_requests()[1].body["messages"]
    assert "The number is 7." in json.dumps(messages)
    assert "First." in json.dumps(messages)


@pytest.mark.parametrize(("mode", "ran"), [("yes", True), ("no", False), ("prompt", False)])
async def test_dispatch_turns_use_the_host_config_approval_mode(
    fake_upstream: FakeUpstream, tmp_path: Path, mode: str, ran: bool
) -> None:
    host = Host(fake_upstream, tmp_path, {"approval": {"mode": mode}})
    fake_upstream.enqueue(
        reply_tool_calls(("call_w", "write_file", {"path": "note.txt", "content": "x"})),
        reply_text("done"),
    )
    await host.start()

    result = await host.submit("Write the note.")

    assert result["reply"] == "done"
    assert (tmp_path / "note.txt").exists() is ran
    completed = host.tool_result("write_file")
    assert "isError" not in completed
    assert completed["result"].startswith("Error: approval_denied") is not ran
    assert ("error" in host.methods()) is not ran


async def test_an_unset_approval_mode_denies_but_patterns_still_approve(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    host = Host(fake_upstream, tmp_path, {"approval": {"patterns": ["write_file(kept.txt)"]}})
    fake_upstream.enqueue(
        reply_tool_calls(
            ("call_a", "write_file", {"path": "kept.txt", "content": "x"}),
            ("call_b", "write_file", {"path": "denied.txt", "content": "x"}),
        ),
        reply_text("done"),
    )
    await host.start()

    await host.submit("Write both.")

    assert (tmp_path / "kept.txt").exists()
    assert not (tmp_path / "denied.txt").exists()


async def test_text_attachments_reach_the_model_after_the_prompt(host: Host) -> None:
    host.fake.enqueue(reply_text("Read it."))
    await host.start()

    await host.submit(
        "Summarise the file.",
        attachments=[{"type": "text", "name": "notes.md", "text": "ATTACHED-BODY"}],
    )

    user = host.fake.model_requests()[0].body["messages"][-1]
    text = json.dumps(user["content"])
    assert text.index("Summarise the file.") < text.index("ATTACHED-BODY")
    assert 'name=\\"notes.md\\"' in text


async def test_a_session_cwd_is_where_its_tools_run(host: Host, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "marker.txt").write_text("here")
    host.fake.enqueue(reply_tool_calls(("call_g", "glob", {"pattern": "*.txt"})), reply_text("ok"))
    await host.start()
    await host.engine.dispatch("session/create", {"sessionId": "s-2", "cwd": str(other)})

    await host.engine.dispatch(
        "turn/submit", {"sessionId": "s-2", "turnId": "turn-1", "prompt": "list"}
    )

    assert "marker.txt" in host.tool_result("glob")["result"]


async def test_a_failed_turn_is_a_json_rpc_error_after_its_error_notification(
    host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    await host.start()
    monkeypatch.delenv("ANTHROPIC_API_KEY")

    response = await host.engine.handle(
        {
            "jsonrpc": "2.0",
            "id": 9,
            "method": "turn/submit",
            "params": {"sessionId": "s-1", "turnId": "turn-1", "prompt": "Hello?"},
        }
    )

    assert response is not None and "result" not in response
    assert response["id"] == 9
    error = response["error"]
    assert error["code"] == -32000
    assert error["data"] == {
        "code": "provider_not_configured",
        "classification": "protocol",
        "message": error["message"],
    }
    assert "ANTHROPIC_API_KEY" in error["message"]
    assert host.methods() == ["error"]
    assert host.notes[0]["params"]["recoverable"] is False
    assert host.fake.model_requests() == []


async def test_a_failing_notify_callback_does_not_break_the_turn(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    def explode(note: dict[str, Any]) -> None:
        raise RuntimeError("host bug")

    engine = Dispatcher(HostConfig(), notify=explode, cwd=tmp_path)
    fake_upstream.enqueue(reply_text("Still fine."))
    params = {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {"display": {"events": ["result/delta", "result/final"]}},
        "sessionId": "s-cb",
        "providerOverride": {
            "module": "anthropic",
            "config": {"base_url": fake_upstream.url, "default_model": MODEL},
        },
    }
    await engine.dispatch("initialize", params)

    result = await engine.dispatch(
        "turn/submit", {"sessionId": "s-cb", "turnId": "turn-1", "prompt": "go"}
    )

    assert result["reply"] == "Still fine."
    assert result["finalEvent"]["params"]["text"] == "Still fine."


async def test_a_second_submit_on_a_busy_session_is_session_busy(host: Host) -> None:
    host.fake.enqueue(Reply(blocks=reply_text("one").blocks, delay_s=0.05))
    await host.start()
    first = asyncio.ensure_future(host.submit("first", turn_id="turn-1"))
    while not host.fake.model_requests():
        await asyncio.sleep(0.01)

    with pytest.raises(RpcError) as caught:
        await host.submit("second", turn_id="turn-2")

    assert caught.value.code == -32000
    assert caught.value.data is not None and caught.value.data["code"] == "session_busy"
    assert (await first)["reply"] == "one"
    assert len(host.fake.model_requests()) == 1


async def test_cancel_stops_the_turn_and_records_it_as_cancelled(host: Host) -> None:
    host.fake.enqueue(Reply(blocks=reply_text("slow").blocks, stall_after_events=2, stall_s=30))
    await host.start()
    turn = asyncio.ensure_future(host.submit("Take your time."))
    while not host.fake.model_requests():
        await asyncio.sleep(0.01)

    result = await host.engine.dispatch("turn/cancel", {"sessionId": "s-1", "turnId": "turn-1"})

    assert result == {"sessionId": "s-1", "turnId": "turn-1", "cancelled": True}
    assert turn.done()
    with pytest.raises(RpcError) as caught:
        await turn
    assert caught.value.data is not None and caught.value.data["code"] == "cancelled"
    records = [json.loads(line) for line in layout().usage_ledger.read_text().splitlines()]
    assert [r["status"] for r in records] == ["cancelled"]


async def test_a_turn_cancelled_before_its_first_step_is_still_recorded(host: Host) -> None:
    await host.start()
    turn = asyncio.ensure_future(host.submit("Never mind.", turn_id="turn-1"))
    await asyncio.sleep(0)  # the submit has started its turn, which has not run yet

    result = await host.engine.dispatch("turn/cancel", {"sessionId": "s-1"})

    assert result["cancelled"] is True
    with pytest.raises(RpcError):
        await turn
    lines = (session_dir(host.cwd) / "transcript.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["content"] == "Never mind."
    assert host.fake.model_requests() == []


async def test_cancelling_another_turn_id_leaves_the_running_turn_alone(host: Host) -> None:
    host.fake.enqueue(Reply(blocks=reply_text("kept").blocks, delay_s=0.05))
    await host.start()
    turn = asyncio.ensure_future(host.submit("go", turn_id="turn-1"))
    while not host.fake.model_requests():
        await asyncio.sleep(0.01)

    result = await host.engine.dispatch("turn/cancel", {"sessionId": "s-1", "turnId": "turn-7"})

    assert result == {"sessionId": "s-1", "turnId": "turn-7", "cancelled": False}
    assert (await turn)["reply"] == "kept"


async def test_shutdown_cancels_a_running_turn(host: Host) -> None:
    host.fake.enqueue(Reply(blocks=reply_text("slow").blocks, stall_after_events=2, stall_s=30))
    await host.start()

    turn = asyncio.ensure_future(host.submit("Take your time."))
    while not host.fake.model_requests():
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    assert await host.engine.dispatch("agent/shutdown", {}) == {}

    with pytest.raises(RpcError) as caught:
        await asyncio.wait_for(turn, 5)
    assert caught.value.data is not None
    assert caught.value.data["code"] == "agent_not_ready"
    records = [json.loads(line) for line in layout().usage_ledger.read_text().splitlines()]
    assert [r["status"] for r in records] == ["shutdown"]
    assert "result/final" not in host.methods()


async def test_a_turn_running_when_its_session_ends_completes(host: Host) -> None:
    host.fake.enqueue(Reply(blocks=reply_text("one").blocks, delay_s=0.05))
    await host.start()
    first = asyncio.ensure_future(host.submit("first", turn_id="turn-1"))
    while not host.fake.model_requests():
        await asyncio.sleep(0.01)

    await host.engine.dispatch("session/end", {"sessionId": "s-1"})

    assert (await first)["reply"] == "one"
    with pytest.raises(RpcError) as caught:
        await host.submit("second", turn_id="turn-2")
    assert caught.value.data is not None and caught.value.data["code"] == "stale_session"


async def test_a_new_provider_override_reaches_later_turns(host: Host) -> None:
    host.fake.enqueue(reply_text("from the first"))
    await host.start()
    assert (await host.submit("one", turn_id="turn-1"))["reply"] == "from the first"

    with FakeUpstream() as other:
        other.enqueue(reply_text("from the second"))
        override = {
            "module": "anthropic",
            "config": {"base_url": other.url, "default_model": MODEL},
        }
        await host.start(providerOverride=override)
        result = await host.submit("two", turn_id="turn-2")
        await host.engine.dispatch("agent/shutdown", {})

    assert result["reply"] == "from the second"
    assert len(host.fake.model_requests()) == 1
    assert len(other.model_requests()) == 1
