"""The `run` command-line contract (§7.2–7.4): argv checks, pre-boot envelopes, exit codes, output
modes and failures of the provider and of stdout."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from testkit import reply_text
from tests.e2e.conftest import AgentCli, RunResult

ARGV_TABLE = [
    (("-y", "-n"), "-y and -n are mutually exclusive", "argv_conflict"),
    (
        ("--quiet", "-v"),
        "--quiet conflicts with -v/--verbose and --debug; choose one verbosity tier",
        "argv_conflict",
    ),
    (
        ("--quiet", "--debug"),
        "--quiet conflicts with -v/--verbose and --debug; choose one verbosity tier",
        "argv_conflict",
    ),
    (("--resume", "--fresh"), "--resume and --fresh are mutually exclusive", "argv_conflict"),
]
PROMPT_REQUIRED = '[error] prompt_required: pass prompt as argument: `amplifier-agent run "..."`.'
FORBIDDEN_FLAGS = [
    ("--provider", "anthropic"),
    ("--model", "m"),
    ("--effort", "high"),
    ("--mcp-config-path", "x.json"),
    ("--mcp-servers", "x"),
    ("--env-allowlist", "X"),
    ("--env-extra", "X=1"),
    ("--allow-protocol-skew",),
    ("--skills-dir", "d"),
    ("--host-capabilities", "{}"),
    ("--stdio",),
]


def assert_preboot(result: RunResult, code: str, exit_code: int = 2) -> dict[str, Any]:
    assert result.returncode == exit_code, result.stderr
    envelope = result.envelope()
    assert envelope["protocolVersion"] == "0.3.0"
    assert (envelope["sessionId"], envelope["turnId"], envelope["reply"]) == ("", "", "")
    metadata = envelope["metadata"]
    assert metadata["tokensIn"] == metadata["tokensOut"] == 0
    assert metadata["cacheReadTokens"] == metadata["cacheWriteTokens"] == 0
    assert metadata["durationMs"] == 0
    assert "costUsd" not in metadata
    assert metadata["bundleDigest"] == ""
    assert metadata["engineVersion"] == "0.8.0"
    error = envelope["error"]
    assert error["code"] == code
    assert error["classification"] == "protocol"
    assert error["severity"] == "error"
    assert error["correlationId"] == metadata["correlationId"]
    return envelope


@pytest.mark.parametrize(("flags", "line", "code"), ARGV_TABLE)
def test_argv_conflicts(agent: AgentCli, flags: tuple[str, ...], line: str, code: str) -> None:
    result = agent.run("run", *flags, "hello")

    assert result.stderr_lines == [line]
    assert_preboot(result, code)
    assert agent.fake.requests == []


@pytest.mark.parametrize("prompt", [None, "", "   \n\t"])
def test_prompt_required(agent: AgentCli, prompt: str | None) -> None:
    args = ("run", "-y", "--output", "json") + (() if prompt is None else (prompt,))

    result = agent.run(*args)

    assert result.stderr_lines == [PROMPT_REQUIRED]
    assert_preboot(result, "prompt_required")


@pytest.mark.parametrize("flag", FORBIDDEN_FLAGS, ids=lambda f: f[0])
def test_forbidden_flags_are_usage_errors(agent: AgentCli, flag: tuple[str, ...]) -> None:
    result = agent.run("run", "-y", *flag, "hello")

    assert result.returncode == 2
    assert "No such option" in result.stderr
    assert result.stdout == ""
    assert agent.fake.requests == []


def test_a_dash_prompt_after_double_dash_arrives_intact(agent: AgentCli) -> None:
    agent.fake.enqueue(reply_text("ok"))
    config = agent.config_with_model()

    result = agent.run("run", "-y", "--config", str(config), "--", "-rf --not-a-flag")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"
    (request,) = agent.fake.model_requests()
    assert "-rf --not-a-flag" in json.dumps(request.body["messages"][-1])


def test_protocol_version_mismatch_and_the_skew_override(agent: AgentCli) -> None:
    result = agent.run("run", "-y", "--protocol-version", "0.2.0", "--output", "json", "hi")

    assert result.stderr_lines[-1].startswith("[error] protocol_version_mismatch: ")
    envelope = assert_preboot(result, "protocol_version_mismatch")
    assert "allowProtocolSkew" in envelope["error"]["remediation"]
    assert agent.fake.requests == []

    agent.fake.enqueue(reply_text("skewed but fine"))
    config = agent.config_with_model(allowProtocolSkew=True)
    allowed = agent.run("run", "-y", "--config", str(config), "--protocol-version", "0.2.0", "hi")
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout == "skewed but fine\n"

    agent.fake.enqueue(reply_text("exact"))
    exact = agent.run(
        "run", "-y", "--config", str(agent.config_with_model()), "--protocol-version", "0.3.0", "hi"
    )
    assert (exact.returncode, exact.stdout) == (0, "exact\n")


def test_text_output_prints_the_reply_and_a_newline(agent: AgentCli) -> None:
    agent.fake.enqueue(reply_text("line one\nline two"))

    result = agent.run("run", "-y", "--config", str(agent.config_with_model()), "hi")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "line one\nline two\n"


def test_provider_auth_failure_is_a_runtime_error_envelope(agent: AgentCli) -> None:
    agent.fake.enqueue(reply_text("", error={"status": 401, "message": "invalid x-api-key"}))

    result = agent.run("run", "-y", "--config", str(agent.config_with_model()), "hi")

    assert result.returncode == 1
    assert len(agent.fake.model_requests()) == 1  # a 401 is not retried
    envelope = result.envelope()  # the error envelope is printed in text mode too
    error = envelope["error"]
    assert error["code"] == "runtime"
    assert error["classification"] == "engine"
    assert error["message"].startswith("upstream_auth_error")
    assert envelope["reply"] == "" and envelope["turnId"] == "turn-1"
    assert result.stderr_lines[-1] == f"[error] runtime: {error['message']}"
    assert [line for line in result.stderr_lines if line.startswith("[error]")] == [
        result.stderr_lines[-1]
    ]
    assert "Traceback" not in result.stderr


def test_server_errors_are_retried_by_the_sdk_then_fail(agent: AgentCli) -> None:
    boom = {"status": 500, "message": "upstream exploded"}
    agent.fake.enqueue(*(reply_text("", error=boom) for _ in range(3)))
    env = agent.env()

    result = agent.run(
        "run", "-y", "--config", str(agent.config_with_model()), "--output", "json", "hi", env=env
    )

    assert result.returncode == 1
    assert len(agent.fake.model_requests()) == 3
    assert result.envelope()["error"]["code"] == "runtime"


def test_missing_credential_is_provider_not_configured(agent: AgentCli) -> None:
    env = agent.env()
    del env["ANTHROPIC_API_KEY"]
    config = agent.config_with_model()

    result = agent.run("run", "-y", "--config", str(config), "--output", "json", "hi", env=env)

    assert result.returncode == 2
    envelope = result.envelope()
    assert envelope["error"]["code"] == "provider_not_configured"
    assert "ANTHROPIC_API_KEY" in envelope["error"]["message"]
    assert "amplifier-agent auth set" in envelope["error"].get("remediation", "")
    assert agent.fake.requests == []


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("--cwd", "/definitely/not/here"), "argv_path_unreadable"),
        (("--workspace", "Bad_Slug"), "argv_workspace_invalid"),
        (("--session-id", "../escape"), "invalid_session"),
        (("--config", "/definitely/not/here.json"), "config_unreadable"),
    ],
)
def test_preboot_validation(agent: AgentCli, args: tuple[str, ...], code: str) -> None:
    result = agent.run("run", "-y", *args, "hi")

    assert result.stderr_lines[-1].startswith(f"[error] {code}: ")
    assert_preboot(result, code)
    assert agent.fake.requests == []


def test_stdout_write_failure_is_a_clean_exit_1(agent: AgentCli, tmp_path: Path) -> None:
    agent.fake.enqueue(reply_text("nobody reads this"))
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the reply is written
    try:
        completed = subprocess.run(
            agent.argv(["run", "-y", "--config", str(agent.config_with_model()), "hi"]),
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=agent.env(),
            cwd=agent.cwd,
            timeout=30,
        )
    finally:
        os.close(write_end)

    assert completed.returncode == 1, completed.stderr
    assert completed.stderr.splitlines()[-1] == "[error] stdout write failed: EPIPE"
    assert "Traceback" not in completed.stderr
    assert len(agent.fake.model_requests()) == 1
