"""Approval (§6.3): patterns, modes and the question asked in `prompt` mode."""

from __future__ import annotations

import logging

import pytest

from amplifier_agent.agent.approval import ApprovalPattern, ApprovalPolicy


class Asker:
    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.questions: list[str] = []

    async def __call__(self, question: str) -> str:
        self.questions.append(question)
        return self.answer


@pytest.mark.parametrize(
    ("text", "tool", "glob"),
    [
        ("bash", "bash", None),
        ("bash(git status*)", "bash", "git status*"),
        (" write_file(src/*.py) ", "write_file", "src/*.py"),
        ("web_fetch(https://example.com/(docs)/*)", "web_fetch", "https://example.com/(docs)/*"),
        ("mcp__*", "mcp__*", None),
    ],
)
def test_patterns_parse(text: str, tool: str, glob: str | None) -> None:
    assert ApprovalPattern.parse(text) == ApprovalPattern(tool, glob)


@pytest.mark.parametrize(
    ("pattern", "tool", "subject", "expected"),
    [
        ("bash", "bash", "rm -rf /", True),
        ("bash", "edit_file", "a.txt", False),
        ("bash(git *)", "bash", "git log -1", True),
        ("bash(git *)", "bash", "gitk", False),
        ("bash(git *)", "bash", "echo; git log", False),
        ("edit_file(src/*.py)", "edit_file", "src/app.py", True),
        ("edit_file(src/*.py)", "edit_file", "tests/app.py", False),
        ("edit_file(*.PY)", "edit_file", "x.py", False),  # case-sensitive
        ("mcp__echo__*", "mcp__echo__add", "mcp__echo__add", True),
    ],
)
def test_patterns_match_tool_and_subject(
    pattern: str, tool: str, subject: str, expected: bool
) -> None:
    assert ApprovalPattern.parse(pattern).matches(tool, subject) is expected


async def test_yes_approves_and_no_denies() -> None:
    assert await ApprovalPolicy.build("yes").approve("bash", "bash", "ls")
    assert not await ApprovalPolicy.build("no").approve("bash", "bash", "ls")


@pytest.mark.parametrize("mode", ["yes", "no", "prompt"])
async def test_a_matching_pattern_approves_in_every_mode_without_asking(mode: str) -> None:
    asker = Asker("n")
    policy = ApprovalPolicy.build(mode, ["bash(ls*)"], asker=asker)  # type: ignore[arg-type]

    assert await policy.approve("bash", "bash", "ls -la")
    assert asker.questions == []


@pytest.mark.parametrize(
    ("answer", "approved"),
    [
        ("y\n", True),
        ("Y", True),
        ("yes", True),
        (" YeS \n", True),
        ("n", False),
        ("", False),
        ("yess", False),
        ("ok", False),
    ],
)
async def test_prompt_mode_asks_and_takes_only_yes(answer: str, approved: bool) -> None:
    asker = Asker(answer)
    policy = ApprovalPolicy.build("prompt", asker=asker)

    assert await policy.approve("bash", "bash", "ls   -la\n  /tmp") is approved
    assert asker.questions == ["Approve [bash] bash: ls -la /tmp [y/N]: "]


async def test_long_subjects_are_shortened_in_the_question() -> None:
    asker = Asker("y")
    await ApprovalPolicy.build("prompt", asker=asker).approve("write", "write_file", "d/" * 300)

    question = asker.questions[0]
    assert question.startswith("Approve [write] write_file: d/d/")
    assert question.endswith("... [y/N]: ")
    assert len(question) < 260


async def test_prompt_without_an_asker_denies() -> None:
    assert not await ApprovalPolicy.build("prompt").approve("bash", "bash", "ls")


async def test_auto_approvals_can_be_logged(caplog: pytest.LogCaptureFixture) -> None:
    policy = ApprovalPolicy.build("yes", log_approvals=True)
    with caplog.at_level(logging.INFO, logger="amplifier_agent.agent.approval"):
        await policy.approve("network", "web_fetch", "https://example.com")

    assert "auto-approved [network] web_fetch: https://example.com" in caplog.text
