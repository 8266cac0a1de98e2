"""`run`, `serve stdio` and `doctor` on a PostgreSQL store: a CLI turn continues a served
session, a session busy in another process is refused, a stdio turn (cancelled ones too) is
stored in the database, and `doctor` reports it."""

from __future__ import annotations

import httpx2

from amplifier_agent.core.messages import AssistantMessage, UserMessage
from amplifier_agent.store.postgres import PostgresBackend
from testkit import reply_text
from testkit.postgres import PASSWORD
from tests.e2e.conftest import ROOT_MODEL, AgentCli, wait_for
from tests.e2e.server_harness import running_server, write_config
from tests.e2e.stdio_harness import StdioHost
from tests.e2e.test_http_rejections import anthropic_entry, scrubbed_env
from tests.e2e.test_serve_stdio import error_code, stalled

WORKSPACE = "team"


def test_a_cli_turn_continues_a_served_session(agent: AgentCli, pg_url: str) -> None:
    agent.fake.enqueue(reply_text("served answer"), reply_text("cli answer"))
    config = write_config(
        agent.root / "serve.json", {"providers": {"anthropic": anthropic_entry(agent.fake.url)}}
    )
    env = scrubbed_env(agent.root / "server-home", {"ANTHROPIC_API_KEY": "sk-ant-test"})
    args = ("--workspace", WORKSPACE, "--store", pg_url)
    (agent.root / "server-home").mkdir()
    with running_server(config, env, cwd=agent.root, args=args) as server:
        response = httpx2.post(
            server.url + "/v1/chat/completions",
            json={"model": ROOT_MODEL, "messages": [{"role": "user", "content": "from http"}]},
            headers={"authorization": f"Bearer {server.api_key}", "x-session-id": "shared"},
            timeout=30,
        )
        assert response.status_code == 200, response.text

    done = agent.run(
        "run", "-n", "--workspace", WORKSPACE, "--session-id", "http-shared", "--resume",
        "from cli", "--config", str(agent.config_with_model()),
        env=agent.env(AMPLIFIER_AGENT_STORE_URL=pg_url),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "cli answer" in done.stdout
    assert PASSWORD not in done.stderr + done.stdout
    assert agent.session_dirs("http-shared") == []  # nothing went to the files

    store = PostgresBackend.open(pg_url)
    try:
        session = store.sessions(WORKSPACE).find("http-shared")
        assert session is not None
        assert session.load() == [
            UserMessage("from http"),
            AssistantMessage("served answer"),
            UserMessage("from cli"),
            AssistantMessage("cli answer"),
        ]
        assert session.turns() == 2
        assert [(line.face, line.turn_id) for line in store.read_ledger()] == [
            ("http", "turn-1"),
            ("cli", "turn-2"),
        ]
    finally:
        store.close()


def test_a_cli_turn_on_a_session_busy_elsewhere_is_refused(agent: AgentCli, pg_url: str) -> None:
    store = PostgresBackend.open(pg_url)
    lease = store.try_lock(WORKSPACE, "busy")
    try:
        done = agent.run(
            "run", "-n", "--workspace", WORKSPACE, "--session-id", "busy", "--store", pg_url,
            "--output", "json", "hello", "--config", str(agent.config_with_model()),
        )  # fmt: skip
    finally:
        assert lease is not None
        lease.release()
        store.close()
    assert done.returncode == 1, done.stderr
    assert '"session_busy"' in done.stdout
    assert agent.fake.model_requests() == []


def test_doctor_reports_the_database_store(agent: AgentCli, pg_url: str) -> None:
    env = agent.env(AMPLIFIER_AGENT_STORE_URL=pg_url)
    fresh = agent.run("doctor", "--quick", env=env)
    line = next(x for x in fresh.stdout.splitlines() if "store: postgresql://" in x)
    assert line.startswith("[WARN]") and "schema 0" in line and "round trip" in line
    PostgresBackend.open(pg_url).close()
    migrated = agent.run("doctor", "--quick", env=env)
    line = next(x for x in migrated.stdout.splitlines() if "store: postgresql://" in x)
    assert line.startswith("[ OK ]") and "(current)" in line
    assert "amplifier:***@" in line and PASSWORD not in migrated.stdout
    dead = agent.run("doctor", "--quick", env=agent.env(AMPLIFIER_AGENT_STORE_URL=pg_url[:-3]))
    line = next(x for x in dead.stdout.splitlines() if "store: postgresql://" in x)
    assert line.startswith("[FAIL]") and PASSWORD not in dead.stdout
    assert dead.returncode == 1


def test_serve_stdio_keeps_turns_and_a_cancelled_one_in_the_database(
    agent: AgentCli, pg_url: str
) -> None:
    agent.fake.enqueue(reply_text("first"), stalled())
    host = StdioHost(
        agent, "--workspace", WORKSPACE, env=agent.env(AMPLIFIER_AGENT_STORE_URL=pg_url)
    )
    try:
        host.initialize("s-db")
        assert host.response(host.submit("s-db", "t1", "one"))["result"]["reply"] == "first"
        slow = host.submit("s-db", "t2", "two")
        wait_for(
            lambda: any(
                n["method"] == "result/delta" and n["params"]["turnId"] == "t2"
                for n in host.notifications("s-db")
            ),
            timeout=20,
            message="the second turn's first delta",
        )
        host.send("turn/cancel", {"sessionId": "s-db", "turnId": "t2"})
        assert error_code(host.response(slow)) == "cancelled"
        host.close_stdin()
        assert host.finish() == 0
    finally:
        host.kill()
    assert agent.session_dirs("s-db") == [] and agent.ledger() == []
    store = PostgresBackend.open(pg_url)
    try:
        session = store.sessions(WORKSPACE).find("s-db")
        assert session is not None
        # The cancelled turn committed its prompt with its metadata and ledger line.
        assert session.load() == [
            UserMessage("one"),
            AssistantMessage("first"),
            UserMessage("two"),
            AssistantMessage("partial answer ", interrupted=True),
        ]
        metadata = session.read_metadata()
        assert metadata is not None and (metadata.last_turn, metadata.turns) == ("cancelled", 2)
        assert [line.status for line in store.read_ledger()] == ["completed", "cancelled"]
    finally:
        store.close()
