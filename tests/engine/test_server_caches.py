"""The server's per-process caches and its off-loop store writes, driven through the real HTTP
app in-process (`AgentApp` over `httpx2.ASGITransport`) with a real `EngineService` in front of the
fake Anthropic upstream.

Directory listings are counted by wrapping `Path.iterdir` (the standard library), never by
looking inside the cache; fsyncs are attributed to threads by wrapping `os.fsync`.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest

from amplifier_agent.agent import skill_cache
from amplifier_agent.config.paths import layout
from amplifier_agent.engine import EngineService, load_host_config, load_providers
from amplifier_agent.server.app import AgentApp, GateSettings
from amplifier_agent.server.completions import ChatContext
from testkit import FakeUpstream, reply_text

MODEL = "claude-sonnet-4-5-20250929"
KEY = "aak_test-key"
AUTH = {"authorization": f"Bearer {KEY}"}


def write_skill(root: Path, name: str, description: str) -> Path:
    skill_dir = root / name
    skill_dir.mkdir(parents=True, exist_ok=True)
    text = f"---\nname: {name}\ndescription: {description}\n---\n\nDo it well.\n"
    (skill_dir / "SKILL.md").write_text(text)
    return skill_dir


@asynccontextmanager
async def http_client(
    cwd: Path, fake: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx2.AsyncClient]:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    document = {"providers": {"main": {"module": "anthropic", "config": {"base_url": fake.url}}}}
    path = cwd / "host_config.json"
    path.write_text(json.dumps(document))
    _, config = load_host_config(str(path))
    loaded, problems = await load_providers(config)
    assert loaded is not None, problems
    engine = EngineService(config, loaded, "cache-tests", cwd)
    app = AgentApp(ChatContext(engine=engine), GateSettings(api_key=KEY))
    transport = httpx2.ASGITransport(app=app)
    try:
        async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield client
    finally:
        await engine.aclose()


async def chat(client: httpx2.AsyncClient, **extra: Any) -> httpx2.Response:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], **extra}
    response = await client.post("/v1/chat/completions", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    return response


def system_prompt_sent(fake: FakeUpstream) -> str:
    return json.dumps(fake.model_requests()[-1].body["system"])


@pytest.fixture
def listings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], int]]:
    """How many times each directory was listed since the fixture started."""
    seen: list[Path] = []
    real_iterdir = Path.iterdir

    def counting_iterdir(self: Path) -> Iterator[Path]:
        seen.append(self)
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", counting_iterdir)
    yield lambda directory: sum(1 for path in seen if path == directory)


async def test_skills_are_listed_once_while_unchanged_and_a_change_is_seen_next_request(
    tmp_path: Path,
    fake_upstream: FakeUpstream,
    monkeypatch: pytest.MonkeyPatch,
    listings: Callable[[Path], int],
) -> None:
    # Files written a moment ago are distrusted for a settle window (coarse timestamps); the
    # window is tested on its own in tests/agent/test_skill_cache.py, so it is closed here.
    monkeypatch.setattr(skill_cache, "DEFAULT_SETTLE_NS", 0)
    root = tmp_path / ".amplifier" / "skills"
    write_skill(root, "alpha", "First skill.")
    write_skill(root, "beta", "Second skill.")
    fake_upstream.set_default(reply_text("ok"))
    async with http_client(tmp_path, fake_upstream, monkeypatch) as client:
        for _ in range(50):
            await chat(client)
        assert listings(root) == 1
        assert "alpha: First skill." in system_prompt_sent(fake_upstream)

        (root / "alpha" / "SKILL.md").write_text(
            "---\nname: alpha\ndescription: Edited skill.\n---\n\nDo it well.\n"
        )
        await chat(client)
        assert "alpha: Edited skill." in system_prompt_sent(fake_upstream)

        write_skill(root, "gamma", "Third skill.")
        await chat(client)
        assert "gamma: Third skill." in system_prompt_sent(fake_upstream)

        (root / "beta" / "SKILL.md").unlink()
        await chat(client, stream=True)
        assert "beta" not in system_prompt_sent(fake_upstream)

        for _ in range(10):
            await chat(client)
    assert listings(root) == 4  # the first request, then one per change


async def test_a_skill_root_created_after_start_up_is_seen_on_the_next_request(
    tmp_path: Path,
    fake_upstream: FakeUpstream,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(skill_cache, "DEFAULT_SETTLE_NS", 0)
    fake_upstream.set_default(reply_text("ok"))
    async with http_client(tmp_path, fake_upstream, monkeypatch) as client:
        await chat(client)
        assert "late-skill" not in system_prompt_sent(fake_upstream)
        write_skill(tmp_path / ".amplifier" / "skills", "late-skill", "Arrived late.")
        await chat(client)
        assert "late-skill: Arrived late." in system_prompt_sent(fake_upstream)


def fsync_threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    names: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        names.append(threading.current_thread().name)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    return names


@pytest.mark.parametrize("stream", [False, True])
async def test_session_and_ledger_writes_run_off_the_event_loop_thread(
    tmp_path: Path, fake_upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    fake_upstream.set_default(reply_text("ok"))
    async with http_client(tmp_path, fake_upstream, monkeypatch) as client:
        names = fsync_threads(monkeypatch)
        headers = {**AUTH, "x-session-id": "s1"}
        body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
        response = await client.post("/v1/chat/completions", json=body, headers=headers)
        assert response.status_code == 200
    loop_thread = threading.current_thread().name
    assert names, "the turn wrote nothing"
    assert loop_thread not in names
    assert {name.split("_")[0] for name in names} == {"store-writer"}


class LastByteProbe:
    """An ASGI wrapper that, when the response's last byte is about to be sent, reads what the
    store holds at that moment."""

    def __init__(self, app: AgentApp, session: str) -> None:
        self.app = app
        self.session = session
        self.at_last_byte: dict[str, list[str]] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def probing_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                self.at_last_byte = self.snapshot()
            await send(message)

        await self.app(scope, receive, probing_send)

    def snapshot(self) -> dict[str, list[str]]:
        session_dir = layout().sessions_dir("cache-tests") / f"http-{self.session}"
        return {
            "ledger": layout().usage_ledger.read_text().splitlines(),
            "transcript": (session_dir / "transcript.jsonl").read_text().splitlines(),
            "metadata": [(session_dir / "metadata.json").read_text()],
        }


@pytest.mark.parametrize("stream", [False, True])
async def test_the_turn_is_on_disk_before_the_last_byte_of_its_response(
    tmp_path: Path, fake_upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    fake_upstream.set_default(reply_text("stored answer"))
    document = {
        "providers": {"main": {"module": "anthropic", "config": {"base_url": fake_upstream.url}}}
    }
    (tmp_path / "host_config.json").write_text(json.dumps(document))
    _, config = load_host_config(str(tmp_path / "host_config.json"))
    loaded, _ = await load_providers(config)
    assert loaded is not None
    engine = EngineService(config, loaded, "cache-tests", tmp_path)
    probe = LastByteProbe(AgentApp(ChatContext(engine=engine), GateSettings(api_key=KEY)), "s2")
    transport = httpx2.ASGITransport(app=probe)
    try:
        async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            body = {
                "model": MODEL,
                "messages": [{"role": "user", "content": "q"}],
                "stream": stream,
            }
            headers = {**AUTH, "x-session-id": "s2", "x-request-id": "req-last-byte"}
            response = await client.post("/v1/chat/completions", json=body, headers=headers)
    finally:
        await engine.aclose()
    assert response.status_code == 200 and "stored answer" in response.text
    ledger = [json.loads(line) for line in probe.at_last_byte["ledger"]]
    assert [(line["requestId"], line["status"]) for line in ledger] == [
        ("req-last-byte", "completed")
    ]
    stored = [json.loads(line) for line in probe.at_last_byte["transcript"]]
    assert [(m["role"], m["content"]) for m in stored] == [
        ("user", "q"),
        ("assistant", "stored answer"),
    ]
    assert json.loads(probe.at_last_byte["metadata"][0])["turns"] == 1


async def test_a_ledger_that_cannot_be_written_is_logged_and_the_turn_still_answers(
    tmp_path: Path,
    fake_upstream: FakeUpstream,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    layout().usage_ledger.mkdir(parents=True)  # a directory where the ledger file should be
    fake_upstream.set_default(reply_text("still fine"))
    async with http_client(tmp_path, fake_upstream, monkeypatch) as client:
        response = await chat(client, stream=False)
    assert response.json()["choices"][0]["message"]["content"] == "still fine"
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(m.startswith("could not append to the turn ledger") for m in warnings)


async def test_a_session_that_cannot_be_read_fails_the_request_as_a_server_error(
    tmp_path: Path, fake_upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_dir = layout().sessions_dir("cache-tests") / "http-broken"
    (session_dir / "transcript.jsonl").mkdir(parents=True)  # unreadable as a transcript
    async with http_client(tmp_path, fake_upstream, monkeypatch) as client:
        body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
        headers = {**AUTH, "x-session-id": "broken"}
        response = await client.post("/v1/chat/completions", json=body, headers=headers)
    assert response.status_code == 500
    assert response.json()["error"] == {
        "message": "stale_session: the turn failed on the server; see its log",
        "type": "server_error",
        "code": "internal",
        "param": None,
    }
    assert fake_upstream.model_requests() == []
