"""`serve chat-completions` refusing to start (SPEC §8.2): every problem collected, one line per
problem then the structured `startup_failed` line, exit 2, nothing bound, no `serve.json`.

"Nothing bound" is proven with a port the test already listens on: a server that tried to bind
it would also report `port_in_use`, which the positive control below shows it does.
"""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from testkit import FakeUpstream
from tests.e2e.server_harness import engine_binary, server_env, write_config
from tests.e2e.test_http_rejections import anthropic_entry


@pytest.fixture
def held_port() -> Iterator[int]:
    """A loopback port this test listens on, so nothing else can bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    tmp_path: Path, config: dict[str, Any], args: Sequence[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    path = write_config(tmp_path / "host_config.json", config)
    argv = [engine_binary(), "serve", "chat-completions", "--config", str(path), *args]
    return subprocess.run(
        argv,
        cwd=tmp_path,
        env=server_env(tmp_path, env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def startup_failure(result: subprocess.CompletedProcess[str], tmp_path: Path) -> dict[str, Any]:
    """The final structured error line, after checking exit 2, no banner and no state file."""
    assert result.returncode == 2, result.stderr
    assert "listening on" not in result.stderr
    assert not (tmp_path / "state-root" / "state" / "serve.json").exists()
    lines = result.stderr.strip().splitlines()
    final = json.loads(lines[-1])
    assert final["error"]["code"] == "startup_failed"
    problems = final["error"]["problems"]
    count = len(problems)
    assert (
        final["error"]["message"] == f"{count} problem{'s' if count > 1 else ''} prevented startup"
    )
    for problem in problems:
        where = f" ({problem['provider']})" if "provider" in problem else ""
        assert f"[error] {problem['code']}{where}: {problem['message']}" in lines[:-1]
    return dict(final["error"])


def test_providers_missing(tmp_path: Path, held_port: int) -> None:
    result = start_server(
        tmp_path, {}, ["--port", str(held_port), "--api-key", "k"], {"ANTHROPIC_API_KEY": "x"}
    )
    error = startup_failure(result, tmp_path)
    assert [p["code"] for p in error["problems"]] == ["providers_missing"]


def test_every_broken_provider_is_listed_in_config_order(tmp_path: Path, held_port: int) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    config = {"providers": {"openai": {}, "claude": anthropic_entry(dead)}}
    result = start_server(
        tmp_path, config, ["--port", str(held_port), "--api-key", "k"], {"ANTHROPIC_API_KEY": "x"}
    )
    problems = startup_failure(result, tmp_path)["problems"]
    assert [(p["code"], p["provider"]) for p in problems] == [
        ("credentials_missing", "openai"),
        ("list_models_failed", "claude"),
    ]
    assert "OPENAI_API_KEY" in problems[0]["message"]


def test_remote_bind_without_a_key_is_refused_before_binding(
    tmp_path: Path, held_port: int, fake_upstream: FakeUpstream
) -> None:
    # 0.0.0.0:<held port> collides with the test's listener, so even a broken check cannot
    # expose a non-loopback socket here.
    config = {"providers": {"anthropic": anthropic_entry(fake_upstream.url)}}
    result = start_server(
        tmp_path,
        config,
        ["--bind", "0.0.0.0", "--port", str(held_port)],
        {"ANTHROPIC_API_KEY": "x"},
    )
    problems = startup_failure(result, tmp_path)["problems"]
    assert [p["code"] for p in problems] == ["remote_bind_requires_api_key"]
    assert fake_upstream.requests == []


def test_a_busy_port_is_a_structured_problem_too(
    tmp_path: Path, held_port: int, fake_upstream: FakeUpstream
) -> None:
    config = {"providers": {"anthropic": anthropic_entry(fake_upstream.url)}}
    result = start_server(
        tmp_path,
        config,
        ["--port", str(held_port), "--api-key", "k"],
        {"ANTHROPIC_API_KEY": "x"},
    )
    problems = startup_failure(result, tmp_path)["problems"]
    assert [p["code"] for p in problems] == ["port_in_use"]
    assert [r.path for r in fake_upstream.requests] == ["/v1/models"]


@pytest.mark.parametrize(
    ("document", "args", "codes"),
    [
        ({"providers": {}}, [], ["providers_empty"]),
        (
            {},
            ["--port", "70000", "--workspace", "Bad_Slug"],
            ["invalid_port", "argv_workspace_invalid", "providers_missing"],
        ),
        ({"providers": {"anthropic": {}}, "bogus": 1}, [], ["config_unknown_key"]),
    ],
    ids=["empty", "flags-then-providers", "config-first"],
)
def test_problems_come_config_then_flags_then_providers(
    tmp_path: Path, document: dict[str, Any], args: list[str], codes: list[str]
) -> None:
    result = start_server(tmp_path, document, ["--api-key", "k", *args], {})
    problems = startup_failure(result, tmp_path)["problems"]
    assert [p["code"] for p in problems] == codes


def test_a_provider_listing_no_models_is_a_problem(
    tmp_path: Path, held_port: int, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.set_models([])
    config = {"providers": {"anthropic": anthropic_entry(fake_upstream.url)}}
    result = start_server(
        tmp_path, config, ["--port", str(held_port), "--api-key", "k"], {"ANTHROPIC_API_KEY": "x"}
    )
    problems = startup_failure(result, tmp_path)["problems"]
    assert [(p["code"], p["provider"]) for p in problems] == [("no_models", "anthropic")]
