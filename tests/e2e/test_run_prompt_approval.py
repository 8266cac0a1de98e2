"""`prompt` approval on a terminal (§6.3): the question on stderr, the answer from stdin."""

from __future__ import annotations

import contextlib
import os
import pty
import signal
import subprocess
from collections.abc import Iterator

import pytest

from testkit import reply_text, reply_tool_calls
from tests.e2e.conftest import AgentCli, LiveProcess, anthropic_blocks, tool_result_text

QUESTION = "Approve [bash] bash: echo approved-$((6 * 7)) [y/N]: "


@pytest.fixture
def terminal() -> Iterator[tuple[int, int]]:
    """A pseudo-terminal: (controller fd, terminal fd used as the child's stdin)."""
    controller, terminal_fd = pty.openpty()
    yield controller, terminal_fd
    for fd in (controller, terminal_fd):
        with contextlib.suppress(OSError):
            os.close(fd)


def spawn_on_terminal(agent: AgentCli, terminal_fd: int) -> LiveProcess:
    agent.fake.enqueue(
        reply_tool_calls(("call_q", "bash", {"command": "echo approved-$((6 * 7))"})),
        reply_text("asked"),
    )
    config = agent.config_with_model()
    process = subprocess.Popen(
        agent.argv(["run", "--config", str(config), "--session-id", "tty1", "do it"]),
        stdin=terminal_fd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=agent.env(),
        cwd=agent.cwd,
    )
    return LiveProcess(process)


@pytest.mark.parametrize(("answer", "approved"), [("Y\n", True), ("yes\n", True), ("\n", False)])
def test_the_terminal_answer_decides(
    agent: AgentCli, terminal: tuple[int, int], answer: str, approved: bool
) -> None:
    controller, terminal_fd = terminal
    live = spawn_on_terminal(agent, terminal_fd)
    try:
        live.wait_for_stderr(QUESTION)
        os.write(controller, answer.encode())
        result, _ = live.finish()
    finally:
        live.kill()

    assert result.returncode == 0, result.stderr
    assert result.stdout == "asked\n"
    (block,) = anthropic_blocks(agent.fake.model_requests()[1].body, "tool_result")
    if approved:
        assert "approved-42" in tool_result_text(block)
    else:
        assert tool_result_text(block).startswith("Error: approval_denied")


def test_sigint_while_waiting_for_an_answer_exits_promptly(
    agent: AgentCli, terminal: tuple[int, int]
) -> None:
    _, terminal_fd = terminal
    live = spawn_on_terminal(agent, terminal_fd)
    try:
        live.wait_for_stderr(QUESTION)
        sent = live.signal(signal.SIGINT)
        result, ended = live.finish(timeout=10)
    finally:
        live.kill()

    assert result.returncode == 130, result.stderr
    assert ended - sent < 2.0
    assert result.stderr.endswith("[info] Interrupted\n")
    assert agent.transcript("tty1")[-1]["tool_calls"][0]["id"] == "call_q"
