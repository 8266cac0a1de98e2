"""`run` executes the tool calls a (fake) model makes, within the approval policy (§6.1–6.3)."""

from __future__ import annotations

from testkit import reply_text, reply_tool_calls
from tests.e2e.conftest import AgentCli, anthropic_blocks, tool_result_text


def script_bash_then_edit(agent: AgentCli) -> None:
    agent.fake.enqueue(
        reply_tool_calls(("call_bash", "bash", {"command": "echo hello-from-$((40 + 2))"})),
        reply_tool_calls(
            (
                "call_edit",
                "edit_file",
                {"path": "notes.txt", "old_string": "draft", "new_string": "final"},
            )
        ),
        reply_text("all done"),
    )


def test_bash_and_edit_run_and_their_results_reach_the_model(agent: AgentCli) -> None:
    (agent.cwd / "notes.txt").write_text("status: draft\n")
    script_bash_then_edit(agent)

    result = agent.run("run", "-y", "--output", "json", "tidy up")

    assert result.returncode == 0, result.stderr
    assert result.envelope()["reply"] == "all done"
    assert (agent.cwd / "notes.txt").read_text() == "status: final\n"
    first, second, third = (r.body for r in agent.fake.model_requests())
    assert anthropic_blocks(first, "tool_result") == []
    bash_result = anthropic_blocks(second, "tool_result")[-1]
    assert bash_result["tool_use_id"] == "call_bash"
    assert "hello-from-42" in tool_result_text(bash_result)
    assert "Exit code: 0" in tool_result_text(bash_result)
    assert not bash_result.get("is_error")
    edit_result = anthropic_blocks(third, "tool_result")[-1]
    assert edit_result["tool_use_id"] == "call_edit"
    assert not edit_result.get("is_error"), tool_result_text(edit_result)


def test_no_denies_every_call_that_needs_approval(agent: AgentCli) -> None:
    (agent.cwd / "notes.txt").write_text("status: draft\n")
    script_bash_then_edit(agent)

    result = agent.run("run", "-n", "--output", "json", "tidy up")

    assert result.returncode == 0, result.stderr
    assert result.envelope()["reply"] == "all done"
    assert (agent.cwd / "notes.txt").read_text() == "status: draft\n"
    _, second, third = (r.body for r in agent.fake.model_requests())
    for body, call_id in ((second, "call_bash"), (third, "call_edit")):
        denied = anthropic_blocks(body, "tool_result")[-1]
        assert denied["tool_use_id"] == call_id
        assert denied["is_error"] is True
        assert tool_result_text(denied).startswith("Error: approval_denied: ")
    assert "hello-from-42" not in str(second)


def test_headless_run_without_a_policy_fails_before_any_model_call(agent: AgentCli) -> None:
    script_bash_then_edit(agent)
    config = agent.config_with_model()

    result = agent.run("run", "--config", str(config), "--output", "json", "tidy up")

    assert result.returncode == 2
    assert result.stderr_lines[-1].startswith("[error] approval_unconfigured: ")
    assert "-y" in result.stderr and "approval.mode" in result.stderr
    envelope = result.envelope()
    assert envelope["error"]["code"] == "approval_unconfigured"
    assert envelope["error"]["classification"] == "protocol"
    assert (envelope["sessionId"], envelope["turnId"]) == ("", "")
    assert agent.fake.requests == []


def test_prompt_mode_without_a_tty_is_unconfigured_too(agent: AgentCli) -> None:
    config = agent.config_with_model(approval={"mode": "prompt"})

    result = agent.run("run", "--config", str(config), "hi")

    assert result.returncode == 2
    assert "approval_unconfigured" in result.stderr
    assert agent.fake.requests == []


def test_approval_patterns_approve_matching_calls_in_no_mode(agent: AgentCli) -> None:
    agent.fake.enqueue(
        reply_tool_calls(
            ("allowed", "bash", {"command": "echo ok-$((1 + 1))"}),
            ("refused", "bash", {"command": "rm -rf ./somewhere"}),
        ),
        reply_text("finished"),
    )
    config = agent.config_with_model(approval={"mode": "no", "patterns": ["bash(echo *)"]})

    result = agent.run("run", "--config", str(config), "--output", "json", "go")

    assert result.returncode == 0, result.stderr
    results = {
        b["tool_use_id"]: tool_result_text(b)
        for b in anthropic_blocks(agent.fake.model_requests()[1].body, "tool_result")
    }
    assert "ok-2" in results["allowed"]
    assert results["refused"].startswith("Error: approval_denied")


def test_the_openai_provider_runs_the_same_round_trip(openai_agent: AgentCli) -> None:
    agent = openai_agent
    (agent.cwd / "notes.txt").write_text("status: draft\n")
    script_bash_then_edit(agent)
    config = agent.config_with_model("gpt-5")

    result = agent.run("run", "-y", "--config", str(config), "--output", "json", "tidy up")

    assert result.returncode == 0, result.stderr
    assert result.envelope()["reply"] == "all done"
    assert (agent.cwd / "notes.txt").read_text() == "status: final\n"
    requests = agent.fake.model_requests()
    assert [r.path for r in requests] == ["/v1/chat/completions"] * 3
    assert all(r.body["model"] == "gpt-5" for r in requests)
    tool_messages = [m for m in requests[1].body["messages"] if m["role"] == "tool"]
    assert tool_messages[-1]["tool_call_id"] == "call_bash"
    assert "hello-from-42" in tool_messages[-1]["content"]
