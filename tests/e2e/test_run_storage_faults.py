"""`run` with a session on a state root that fills up or turns read-only: the reply the model
gave (and was paid for) still reaches the user, and the failure is reported as `storage_error`
(exit 1), never as a stale session or an internal error."""

from __future__ import annotations

import pytest

from testkit import reply_text
from tests.e2e.conftest import AgentCli, wait_for
from tests.fs_faults import fill, remount_read_only, tmpfs

ANSWER = "The capital is Paris."
#: Long enough to break the disk while the model's answer is still streaming.
STALL_S = 3.0


def _break(agent: AgentCli, fault: str) -> None:
    if fault == "full":
        fill(agent.home)
    else:
        remount_read_only(agent.home)


@pytest.mark.parametrize("fault", ["full", "read-only"])
@pytest.mark.parametrize("output", ["text", "json"])
def test_storage_failure_after_the_model_answered_keeps_the_reply(
    agent: AgentCli, fault: str, output: str
) -> None:
    agent.fake.enqueue(reply_text(ANSWER, stall_after_events=1, stall_s=STALL_S))
    config = str(agent.config_with_model())
    with tmpfs(agent.home):
        live = agent.spawn(
            "run", "-y", "--config", config, "--session-id", "s1", "--output", output, "Capital?"
        )
        try:
            wait_for(lambda: agent.fake.model_requests(), message="the model call", timeout=20)
            _break(agent, fault)
            result, _ = live.finish(timeout=30)
        finally:
            live.kill()
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "[error] storage_error: " in result.stderr
    assert "stale_session" not in result.stderr and "internal" not in result.stderr
    if output == "text":
        assert result.stdout == ANSWER + "\n"
    else:
        document = result.envelope()
        assert document["reply"] == ANSWER
        assert document["error"]["code"] == "storage_error"
        assert document["error"]["classification"] == "engine"
        assert document["metadata"]["tokensOut"] > 0


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_storage_failure_before_the_turn_calls_no_model(agent: AgentCli, fault: str) -> None:
    config = str(agent.config_with_model())
    with tmpfs(agent.home):
        _break(agent, fault)
        result = agent.run(
            "run", "-y", "--config", config, "--session-id", "s1", "--output", "json", "Hi?"
        )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    document = result.envelope()
    assert document["error"]["code"] == "storage_error"
    assert agent.home.name in document["error"]["message"]
    assert agent.fake.model_requests() == []
