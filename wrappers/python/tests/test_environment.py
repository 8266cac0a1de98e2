"""The child environment as a pure function of the parent environment and the `env` option."""

from __future__ import annotations

from amplifier_agent_py.environment import check_env_request, child_env

PARENT = {
    "PATH": "/usr/bin",
    "HOME": "/home/u",
    "USER": "u",
    "LANG": "C.UTF-8",
    "TERM": "xterm",
    "TMPDIR": "/tmp",
    "LC_ALL": "C",
    "AMPLIFIER_AGENT_HOME": "/h",
    "ANTHROPIC_API_KEY": "k1",
    "CHAT_COMPLETIONS_BASE_URL": "http://x",
    "AWS_SECRET_ACCESS_KEY": "nope",
    "PYTHONPATH": "/evil",
    "LD_PRELOAD": "/evil.so",
    "SHELL": "/bin/bash",
    "WANTED": "w",
    "XDG_RUNTIME_DIR": "/run/user/1",
}


def test_only_allowlisted_names_pass() -> None:
    env = child_env(check_env_request(None), PARENT)
    assert env == {
        "PATH": "/usr/bin",
        "HOME": "/home/u",
        "USER": "u",
        "LANG": "C.UTF-8",
        "TERM": "xterm",
        "TMPDIR": "/tmp",
        "LC_ALL": "C",
        "AMPLIFIER_AGENT_HOME": "/h",
        "ANTHROPIC_API_KEY": "k1",
        "CHAT_COMPLETIONS_BASE_URL": "http://x",
    }


def test_allowlist_copies_and_extra_wins() -> None:
    request = check_env_request(
        {"allowlist": ["WANTED", "ABSENT"], "extra": {"HOME": "/other", "NEW": "n"}}
    )
    env = child_env(request, PARENT)
    assert env["WANTED"] == "w" and env["HOME"] == "/other" and env["NEW"] == "n"
    assert "ABSENT" not in env and "SHELL" not in env
