"""`run`'s checks before boot (§7.2, §6.3 ladder, §10.2), as pure functions."""

from __future__ import annotations

from pathlib import Path

import pytest

from amplifier_agent.cli.run_preboot import (
    Flags,
    PrebootFailure,
    approval_mode,
    check_argv,
    check_protocol,
    check_session_flags,
    resolve_cwd,
    workspace_for,
)
from amplifier_agent.config.host_config import ApprovalConfig, HostConfig


def flags(**set_: bool) -> Flags:
    values = dict.fromkeys(Flags.__dataclass_fields__, False)
    values.update(set_)
    return Flags(**values)


def config(mode: str | None = None, skew: bool | None = None) -> HostConfig:
    return HostConfig(approval=ApprovalConfig(mode=mode), allow_protocol_skew=skew)


@pytest.mark.parametrize(
    ("set_", "tty", "mode", "expected"),
    [
        ({"yes": True}, False, "no", "yes"),
        ({"no": True}, True, "yes", "no"),
        ({}, False, "yes", "yes"),
        ({}, False, "no", "no"),
        ({}, True, None, "prompt"),
        ({}, True, "prompt", "prompt"),
    ],
)
def test_the_approval_ladder(
    set_: dict[str, bool], tty: bool, mode: str | None, expected: str
) -> None:
    assert approval_mode(flags(**set_), config(mode), tty) == expected


@pytest.mark.parametrize("mode", [None, "prompt"])
def test_headless_without_a_policy_is_unconfigured(mode: str | None) -> None:
    with pytest.raises(PrebootFailure) as raised:
        approval_mode(flags(), config(mode), stdin_is_tty=False)

    failure = raised.value
    assert failure.code == "approval_unconfigured"
    assert failure.stderr_line == f"[error] approval_unconfigured: {failure.message}"
    for hint in ("-y", "-n", "approval.mode", "--config", "$AMPLIFIER_AGENT_CONFIG"):
        assert hint in failure.message


@pytest.mark.parametrize(
    ("set_", "line"),
    [
        ({"yes": True, "no": True}, "-y and -n are mutually exclusive"),
        (
            {"quiet": True, "verbose": True},
            "--quiet conflicts with -v/--verbose and --debug; choose one verbosity tier",
        ),
        ({"resume": True, "fresh": True}, "--resume and --fresh are mutually exclusive"),
    ],
)
def test_argv_conflicts_print_their_own_line(set_: dict[str, bool], line: str) -> None:
    with pytest.raises(PrebootFailure) as raised:
        check_argv(flags(**set_), "prompt")

    assert (raised.value.code, raised.value.stderr_line) == ("argv_conflict", line)


def test_conflicts_are_checked_before_the_prompt() -> None:
    with pytest.raises(PrebootFailure) as raised:
        check_argv(flags(yes=True, no=True), None)
    assert raised.value.code == "argv_conflict"


@pytest.mark.parametrize("prompt", [None, "", " \t\n"])
def test_a_missing_prompt(prompt: str | None) -> None:
    with pytest.raises(PrebootFailure) as raised:
        check_argv(flags(), prompt)

    assert raised.value.stderr_line == (
        '[error] prompt_required: pass prompt as argument: `amplifier-agent run "..."`.'
    )


def test_the_prompt_is_passed_through_unchanged() -> None:
    assert check_argv(flags(), "  -rf  ") == "  -rf  "


def test_protocol_version_is_compared_exactly() -> None:
    check_protocol(None, config())
    check_protocol("0.3.0", config())
    check_protocol("0.2.0", config(skew=True))
    for requested in ("0.2.0", "0.3.1", "0.3", " 0.3.0"):
        with pytest.raises(PrebootFailure) as raised:
            check_protocol(requested, config())
        assert raised.value.code == "protocol_version_mismatch"
        assert "allowProtocolSkew" in (raised.value.remediation or "")


def test_cwd_must_be_a_readable_directory(tmp_path: Path) -> None:
    assert resolve_cwd(str(tmp_path)) == tmp_path.resolve()
    file = tmp_path / "f"
    file.write_text("")
    for bad in (str(tmp_path / "missing"), str(file)):
        with pytest.raises(PrebootFailure) as raised:
            resolve_cwd(bad)
        assert raised.value.code == "argv_path_unreadable"


def test_workspace_slugs(tmp_path: Path) -> None:
    assert workspace_for("my-ws", tmp_path, {}) == "my-ws"
    assert workspace_for(None, tmp_path, {"AMPLIFIER_AGENT_WORKSPACE": "from-env"}) == "from-env"
    assert workspace_for(None, tmp_path, {}).startswith("-")
    with pytest.raises(PrebootFailure) as raised:
        workspace_for("_reserved", tmp_path, {})
    assert raised.value.code == "argv_workspace_invalid"


@pytest.mark.parametrize("flag", ["resume", "fresh"])
def test_resume_and_fresh_need_a_session_id(flag: str) -> None:
    check_session_flags(flags(**{flag: True}), "s1")
    check_session_flags(flags(), None)
    with pytest.raises(PrebootFailure) as raised:
        check_session_flags(flags(**{flag: True}), None)
    assert raised.value.code == "argv_conflict"
    assert raised.value.stderr_line == f"--{flag} needs --session-id"
