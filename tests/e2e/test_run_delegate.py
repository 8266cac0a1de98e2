"""`delegate` runs a sub-agent on the model routing picks for its role; its text stays private and
its spending counts in the turn (§6.4, §6.5, §6.9)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from testkit import Reply, reply_text, reply_tool_calls
from tests.e2e.conftest import ROOT_MODEL, AgentCli, anthropic_blocks, expected_cost

CHILD_MODEL = "claude-haiku-4-5-20251001"
CHILD_TEXT = "CHILD-PRIVATE-REPORT: renamed the function"

ROOT_USAGE_1 = {"input": 1200, "output": 40, "cache_read": 300, "cache_write": 100}
CHILD_USAGE = {"input": 800, "output": 250, "cache_read": 0, "cache_write": 50}
#: Chat Completions has no cache-write bucket.
OPENAI_CHILD_USAGE = {"input": 800, "output": 250, "cache_read": 200, "cache_write": 0}
ZERO_USAGE = {"input": 0, "output": 0, "cache_read": 0, "cache_write": 0}
ROOT_USAGE_2 = {"input": 1500, "output": 60, "cache_read": 900, "cache_write": 0}


def delegate_script(
    child_model_glob: str, child_usage: dict[str, int] = CHILD_USAGE
) -> list[Reply]:
    return [
        reply_tool_calls(
            ("call_d", "delegate", {"agent": "builder", "task": "rename foo to bar"}),
            usage=ROOT_USAGE_1,
            for_model=ROOT_MODEL,
        ),
        reply_tool_calls(
            ("call_child_ls", "bash", {"command": "echo child-was-here"}),
            usage=ZERO_USAGE,
            for_model=child_model_glob,
        ),
        reply_text(CHILD_TEXT, usage=child_usage, for_model=child_model_glob),
        reply_text("The builder renamed it.", usage=ROOT_USAGE_2, for_model=ROOT_MODEL),
    ]


def test_delegate_routes_the_child_and_keeps_its_text_private(agent: AgentCli) -> None:
    agent.fake.enqueue(*delegate_script(CHILD_MODEL))
    config = agent.config_with_model(routing={"roles": {"coding": [f"anthropic/{CHILD_MODEL}"]}})

    result = agent.run(
        "run", "-y", "--config", str(config), "--output", "json", "--display", "ndjson", "go"
    )

    assert result.returncode == 0, result.stderr
    requests = agent.fake.model_requests()
    models = [r.body["model"] for r in requests]
    assert models == [ROOT_MODEL, CHILD_MODEL, CHILD_MODEL, ROOT_MODEL]
    child = requests[1].body
    assert "You are the builder" in str(child["system"])
    assert "delegate" not in {tool["name"] for tool in child.get("tools", [])}
    assert "bash" in {tool["name"] for tool in child.get("tools", [])}
    assert child["messages"][0]["content"] in ("rename foo to bar", [_text("rename foo to bar")])
    delegate_result = anthropic_blocks(requests[3].body, "tool_result")[-1]
    assert CHILD_TEXT in str(delegate_result["content"])

    envelope = result.envelope()
    assert envelope["reply"] == "The builder renamed it."
    assert CHILD_TEXT not in envelope["reply"]
    notifications = result.notifications()
    deltas = "".join(n["params"]["text"] for n in notifications if n["method"] == "result/delta")
    assert deltas == "The builder renamed it."
    usage_events = [n["params"] for n in notifications if n["method"] == "usage"]
    assert [u.get("agentName") for u in usage_events] == [None, "builder", "builder", None]
    assert usage_events[2]["model"] == CHILD_MODEL
    tools = [
        (n["method"], n["params"]["name"], n["params"].get("agentName"))
        for n in notifications
        if n["method"].startswith("tool/")
    ]
    assert tools == [
        ("tool/started", "delegate", None),
        ("tool/started", "bash", "builder"),
        ("tool/completed", "bash", "builder"),
        ("tool/completed", "delegate", None),
    ]

    _assert_totals(
        envelope,
        [(ROOT_MODEL, ROOT_USAGE_1), (CHILD_MODEL, CHILD_USAGE), (ROOT_MODEL, ROOT_USAGE_2)],
    )


def test_delegate_can_route_to_another_configured_provider(agent: AgentCli) -> None:
    agent.fake.enqueue(*delegate_script("gpt-5-mini", OPENAI_CHILD_USAGE))
    config = agent.write_config(
        {
            "provider": {"module": "anthropic", "config": {"default_model": ROOT_MODEL}},
            "providers": {
                "second": {"module": "openai", "config": {"base_url": f"{agent.fake.url}/v1"}}
            },
            "routing": {"roles": {"coding": ["second/gpt-5-mini"]}},
        }
    )
    env = agent.env(OPENAI_API_KEY="sk-openai-test")

    result = agent.run("run", "-y", "--config", str(config), "--output", "json", "go", env=env)

    assert result.returncode == 0, result.stderr
    requests = agent.fake.model_requests()
    paths = ["/v1/messages", "/v1/chat/completions", "/v1/chat/completions", "/v1/messages"]
    assert [r.path for r in requests] == paths
    assert requests[1].body["model"] == requests[2].body["model"] == "gpt-5-mini"
    assert requests[1].headers["authorization"] == "Bearer sk-openai-test"
    envelope = result.envelope()
    assert CHILD_TEXT not in envelope["reply"]
    _assert_totals(
        envelope,
        [
            (ROOT_MODEL, ROOT_USAGE_1),
            ("gpt-5-mini", OPENAI_CHILD_USAGE),
            (ROOT_MODEL, ROOT_USAGE_2),
        ],
        providers=["anthropic", "openai", "anthropic"],
    )


def test_delegate_to_self_uses_the_parent_model_and_prompt(agent: AgentCli) -> None:
    agent.fake.enqueue(
        reply_tool_calls(("call_s", "delegate", {"agent": "self", "task": "count files"})),
        reply_text("3 files"),
        reply_text("There are 3 files."),
    )
    config = agent.config_with_model()

    result = agent.run("run", "-y", "--config", str(config), "--output", "json", "go")

    assert result.returncode == 0, result.stderr
    root, child, _ = (r.body for r in agent.fake.model_requests())
    assert child["model"] == ROOT_MODEL
    assert child["system"] == root["system"]
    assert "delegate" not in {tool["name"] for tool in child["tools"]}


def test_unknown_agent_is_an_error_result_naming_the_valid_ones(agent: AgentCli) -> None:
    agent.fake.enqueue(
        reply_tool_calls(("call_x", "delegate", {"agent": "wizard", "task": "magic"})),
        reply_text("no wizard"),
    )
    config = agent.config_with_model()

    result = agent.run("run", "-y", "--config", str(config), "--output", "json", "go")

    assert result.returncode == 0, result.stderr
    assert len(agent.fake.model_requests()) == 2
    error = anthropic_blocks(agent.fake.model_requests()[1].body, "tool_result")[-1]
    assert error["is_error"] is True
    text = str(error["content"])
    assert "wizard" in text
    for name in ("architect", "builder", "debugger", "explorer", "git-ops", "researcher", "self"):
        assert name in text


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _assert_totals(
    envelope: dict[str, Any],
    calls: list[tuple[str, dict[str, int]]],
    providers: list[str] | None = None,
) -> None:
    metadata = envelope["metadata"]
    assert metadata["tokensIn"] == sum(
        u["input"] + u["cache_read"] + u["cache_write"] for _, u in calls
    )
    assert metadata["tokensOut"] == sum(u["output"] for _, u in calls)
    assert metadata["cacheReadTokens"] == sum(u["cache_read"] for _, u in calls)
    assert metadata["cacheWriteTokens"] == sum(u["cache_write"] for _, u in calls)
    names = providers or ["anthropic"] * len(calls)
    expected = sum(
        (
            expected_cost(model, usage, name)
            for (model, usage), name in zip(calls, names, strict=True)
        ),
        Decimal(0),
    )
    assert Decimal(metadata["costUsd"]) == expected
