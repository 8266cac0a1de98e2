"""Several `serve chat-completions` processes on one PostgreSQL store: a session's turns land on
any instance, one instance is killed (-9) mid-run and the client retries elsewhere; afterwards
every transcript is complete and in order and the ledger agrees with the sessions. Concurrent
requests for one session on different instances: one 200, the rest 409 `session_busy`."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest

from amplifier_agent.core.messages import AssistantMessage, UserMessage
from amplifier_agent.store.postgres import LATEST, PostgresBackend, connect
from testkit import FakeUpstream, reply_text
from testkit.postgres import PASSWORD, PostgresCluster
from tests.e2e.server_harness import RunningServer, engine_binary, running_server, write_config
from tests.e2e.test_http_rejections import anthropic_entry, scrubbed_env

MODEL = "claude-sonnet-4-5-20250929"
WORKSPACE = "fleet"
INSTANCES = 3
SESSIONS = 30
TURNS_PER_SESSION = 10
KILL_AFTER_TURNS = 100
CLIENT_WORKERS = 10
REPLY = "ok from the fleet"


@dataclass
class Fleet:
    servers: list[RunningServer]
    store_url: str
    http: httpx2.Client
    lock: threading.Lock = field(default_factory=threading.Lock)

    def live(self) -> list[RunningServer]:
        return [s for s in self.servers if s.process.poll() is None]


@pytest.fixture(scope="module")
def fleet(
    tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream, pg_cluster: PostgresCluster
) -> Iterator[Fleet]:
    store_url = pg_cluster.create_database()
    root = tmp_path_factory.mktemp("fleet")
    with (
        running_fleet(root, upstream, store_url, INSTANCES) as servers,
        httpx2.Client(timeout=30) as http,
    ):
        yield Fleet(servers, store_url, http)


@contextmanager
def running_fleet(
    root: Path, upstream: FakeUpstream, store_url: str, count: int
) -> Iterator[list[RunningServer]]:
    """`count` servers of one workspace on the store at `store_url`, each with its own home."""
    config = write_config(
        root / "host_config.json", {"providers": {"anthropic": anthropic_entry(upstream.url)}}
    )
    starting = []
    for index in range(count):
        home = root / f"instance-{index}"
        home.mkdir()
        # The URL (with its password) goes in the environment, never in argv.
        env = scrubbed_env(
            home, {"ANTHROPIC_API_KEY": "sk-ant-test", "AMPLIFIER_AGENT_STORE_URL": store_url}
        )
        args = ("--workspace", WORKSPACE)
        starting.append(running_server(config, env, cwd=home, args=args))
    with ExitStack() as stack:
        # Started side by side: each waits for its own banner.
        with ThreadPoolExecutor(count) as pool:
            entered = [pool.submit(server.__enter__) for server in starting]
        for server in starting:
            stack.push(server.__exit__)
        yield [future.result() for future in entered]


def post(
    fleet: Fleet, server: RunningServer, session: str, messages: list[dict[str, Any]]
) -> httpx2.Response:
    body = {"model": MODEL, "messages": messages, "stream": False}
    headers = {"authorization": f"Bearer {server.api_key}", "x-session-id": session}
    return fleet.http.post(server.url + "/v1/chat/completions", json=body, headers=headers)


def test_one_session_on_several_instances_at_once_runs_once(
    fleet: Fleet, upstream: FakeUpstream
) -> None:
    upstream.reset()
    upstream.set_default(reply_text("slow", delay_s=0.2))
    live = fleet.live()
    assert len(live) >= 2
    targets = [live[i % len(live)] for i in range(6)]
    messages = [{"role": "user", "content": "only once"}]
    with ThreadPoolExecutor(len(targets)) as pool:
        responses = list(pool.map(lambda s: post(fleet, s, "contended", messages), targets))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 5, [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert response.json()["error"]["code"] == "session_busy"
    assert len(upstream.model_requests()) == 1


@dataclass
class Client:
    """Drives every session's turns strictly in order, each on a random live instance."""

    fleet: Fleet
    completed: int = 0
    connection_failures: int = 0
    #: Requests under way on the instance to be killed.
    on_victim: int = 0
    killed: threading.Event = field(default_factory=threading.Event)
    rng: random.Random = field(default_factory=lambda: random.Random(12))

    def run_session(self, session: str) -> list[dict[str, Any]]:
        history: list[dict[str, Any]] = []
        for turn in range(1, TURNS_PER_SESSION + 1):
            history.append({"role": "user", "content": f"{session} turn {turn}"})
            reply = self.until_answered(session, history)
            history.append({"role": "assistant", "content": reply})
            self.count_and_maybe_kill()
        return history

    def until_answered(self, session: str, history: list[dict[str, Any]]) -> str:
        for _ in range(20):
            with self.fleet.lock:
                server = self.rng.choice(self.fleet.live())
                victim = server is self.fleet.servers[0]
                self.on_victim += victim
            try:
                response = post(self.fleet, server, session, history)
            except httpx2.TransportError:
                with self.fleet.lock:
                    self.connection_failures += 1
                continue
            finally:
                with self.fleet.lock:
                    self.on_victim -= victim
            if response.status_code == 200:
                content: str = response.json()["choices"][0]["message"]["content"]
                return content
            # 409: the killed instance's lock is released as its connection dies.
            assert response.status_code == 409, response.text
            self.killed.wait(0.05)
        pytest.fail(f"session {session} made no progress")

    def count_and_maybe_kill(self) -> None:
        """Past `KILL_AFTER_TURNS`, kill -9 the first instance at a moment it has a request
        under way, so the kill certainly cuts a turn short."""
        with self.fleet.lock:
            self.completed += 1
            due = self.completed >= KILL_AFTER_TURNS and not self.killed.is_set()
            if due and self.on_victim:
                self.fleet.servers[0].process.send_signal(signal.SIGKILL)
                self.fleet.servers[0].process.wait(timeout=10)
                self.killed.set()


def test_turns_spread_over_instances_survive_a_killed_instance(
    fleet: Fleet, upstream: FakeUpstream
) -> None:
    upstream.reset()
    # Each reply streams for a few milliseconds, so turns are in flight when the kill lands.
    upstream.set_default(reply_text(REPLY, delay_s=0.004))
    client = Client(fleet)
    names = [f"fleet-{k}" for k in range(SESSIONS)]
    with ThreadPoolExecutor(CLIENT_WORKERS) as pool:
        histories = dict(zip(names, pool.map(client.run_session, names), strict=True))
    assert client.killed.is_set() and client.completed == SESSIONS * TURNS_PER_SESSION
    assert client.connection_failures >= 1  # the kill cut requests short; they were retried

    store = PostgresBackend.open(fleet.store_url)
    try:
        sessions = store.sessions(WORKSPACE)
        ledger = [line for line in store.read_ledger() if line.status == "completed"]
        for name, history in histories.items():
            session = sessions.find(f"http-{name}")
            assert session is not None, name
            expected = [
                UserMessage(m["content"]) if m["role"] == "user" else AssistantMessage(m["content"])
                for m in history
            ]
            assert session.load() == expected, name
            lines = [line for line in ledger if line.session_id == f"http-{name}"]
            # Messages, metadata and ledger line commit together, so they always agree.
            assert session.turns() == len(lines)
        # A turn the killed instance committed but never answered is asked again: at most one
        # extra line per request lost with it.
        extra = len(ledger) - SESSIONS * TURNS_PER_SESSION
        assert 0 <= extra <= client.connection_failures
    finally:
        store.close()


def test_the_store_url_password_never_reaches_the_logs(fleet: Fleet) -> None:
    password = fleet.store_url.split(":")[2].split("@")[0]
    for server in fleet.servers:
        assert password not in server.stderr_text()
        assert "  Store: postgresql://amplifier:***@127.0.0.1:" in server.stderr_text()


def test_instances_started_together_migrated_once(fleet: Fleet) -> None:
    with connect(fleet.store_url) as conn:
        rows = conn.execute("SELECT version FROM amplifier_schema_versions").fetchall()
    assert sorted(row[0] for row in rows) == list(range(1, LATEST + 1))


def startup_failure(tmp_path: Path, upstream: FakeUpstream, store_url: str) -> dict[str, Any]:
    """Start a server that must refuse to start; its exit code and structured error."""
    config = write_config(
        tmp_path / "host_config.json", {"providers": {"anthropic": anthropic_entry(upstream.url)}}
    )
    env = scrubbed_env(tmp_path, {"ANTHROPIC_API_KEY": "sk-ant-test"})
    argv = [engine_binary(), "serve", "chat-completions", "--port", "0", "--config", str(config)]
    done = subprocess.run(
        [*argv, "--store", store_url], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    password = store_url.split(":")[2].split("@")[0]
    assert password not in done.stderr and password not in done.stdout
    summary: dict[str, Any] = json.loads(done.stderr.strip().splitlines()[-1])
    assert summary["error"]["code"] == "startup_failed"
    return summary


def test_a_database_at_a_newer_schema_is_refused_at_startup(
    tmp_path: Path, upstream: FakeUpstream, pg_url: str
) -> None:
    PostgresBackend.open(pg_url).close()
    with connect(pg_url) as conn:
        conn.execute("INSERT INTO amplifier_schema_versions (version) VALUES (%s)", (LATEST + 1,))
    problems = startup_failure(tmp_path, upstream, pg_url)["error"]["problems"]
    assert [p["code"] for p in problems] == ["store_schema_newer"]


def test_an_unreachable_store_is_a_startup_problem_with_the_password_masked(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    url = f"postgresql://amplifier:{PASSWORD}@127.0.0.1:1/agent"
    problems = startup_failure(tmp_path, upstream, url)["error"]["problems"]
    assert [p["code"] for p in problems] == ["store_unavailable"]
    assert "amplifier:***@127.0.0.1:1/agent" in problems[0]["message"]


def test_the_clients_view_wins_on_whichever_instance_it_reaches(
    fleet: Fleet, upstream: FakeUpstream
) -> None:
    upstream.reset()
    upstream.set_default(reply_text(REPLY))
    first, second = fleet.live()[:2]
    history = [{"role": "user", "content": "original question"}]
    assert post(fleet, first, "edited", history).status_code == 200
    # The user edited the question on the client; the next request lands on another instance.
    edited = [{"role": "user", "content": "edited question"}]
    response = post(fleet, second, "edited", edited)
    assert response.status_code == 200, response.text

    store = PostgresBackend.open(fleet.store_url)
    try:
        session = store.sessions(WORKSPACE).find("http-edited")
        assert session is not None
        assert session.load() == [UserMessage("edited question"), AssistantMessage(REPLY)]
        metadata = session.read_metadata()
        assert metadata is not None and metadata.last_turn == "client_reconciled"
    finally:
        store.close()
