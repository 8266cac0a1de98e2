"""What `spawn_agent` checks before a turn: discovery, the probe, and every option that must
be refused before any process starts."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from amplifier_agent_py import (
    DEFAULT_TIMEOUT_MS,
    PROTOCOL_VERSION_REQUIRED_BY_WRAPPER,
    AgentError,
    get_engine_info,
    spawn_agent,
)
from helpers import SESSION, FakeEngine, collect


def test_exported_constants() -> None:
    assert PROTOCOL_VERSION_REQUIRED_BY_WRAPPER == "0.3.0"
    assert DEFAULT_TIMEOUT_MS == 600000


async def test_binary_not_found_without_env_var_or_path_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AMPLIFIER_AGENT_BIN")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(AgentError) as caught:
        await spawn_agent(session_id=SESSION)
    assert caught.value.code == "binary_not_found"
    assert caught.value.classification == "transport"
    assert caught.value.retryable is True


async def test_binary_found_on_path(fake: FakeEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AMPLIFIER_AGENT_BIN")
    monkeypatch.setenv("PATH", f"{fake.binary.parent}{os.pathsep}{os.environ['PATH']}")
    handle = await spawn_agent(session_id=SESSION)
    info = handle.get_engine_info()
    assert info.binary_path == str(fake.binary)
    assert (info.protocol_version, info.engine_version) == ("0.3.0", "0.8.0")


async def test_env_var_is_used_verbatim(fake: FakeEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    relative = os.path.relpath(fake.binary)
    monkeypatch.setenv("AMPLIFIER_AGENT_BIN", relative)
    handle = await spawn_agent(session_id=SESSION)
    assert handle.get_engine_info().binary_path == relative


async def test_probe_runs_once_per_spawn(fake: FakeEngine) -> None:
    handle = await spawn_agent(session_id=SESSION)
    await collect(handle.submit("hi"))
    assert fake.records()[0]["argv"] == ["version", "--json"]
    assert [r["argv"][0] for r in fake.records()] == ["version", "run"]


async def test_protocol_version_mismatch_names_the_skew_option(fake: FakeEngine) -> None:
    fake.configure(version_json={"version": "0.9.0", "protocolVersion": "0.3.1"})
    with pytest.raises(AgentError) as caught:
        await spawn_agent(session_id=SESSION)
    error = caught.value
    assert (error.code, error.classification) == ("protocol_version_mismatch", "protocol")
    assert error.remediation is not None and "allowProtocolSkew" in error.remediation
    assert "AMPLIFIER_" not in error.remediation
    assert [r["argv"][0] for r in fake.records()] == ["version"]


async def test_skew_allowed_tolerates_a_failing_probe_and_drops_the_version_flag(
    fake: FakeEngine,
) -> None:
    fake.configure(version_json="", version_exit_code=1)
    handle = await spawn_agent(session_id=SESSION, allow_protocol_skew=True)
    info = handle.get_engine_info()
    assert (info.protocol_version, info.engine_version, info.bundle_digest) == ("", "", "")
    events = await collect(handle.submit("hi"))
    assert events[-1]["type"] == "result"
    assert "--protocol-version" not in fake.run_record()["argv"]


async def test_probe_timeout_is_a_transport_failure(fake: FakeEngine) -> None:
    fake.configure(version_delay_ms=20_000)
    started = time.monotonic()
    with pytest.raises(AgentError) as caught:
        await spawn_agent(session_id=SESSION)
    assert time.monotonic() - started < 10
    assert (caught.value.code, caught.value.classification) == ("engine_probe_failed", "transport")
    assert "timed out after 5000 ms" in caught.value.message


async def test_unstartable_binary_fails_the_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = tmp_path / "amplifier-agent"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(stat.S_IRUSR)
    monkeypatch.setenv("AMPLIFIER_AGENT_BIN", str(binary))
    with pytest.raises(AgentError) as caught:
        await spawn_agent(session_id=SESSION)
    assert (caught.value.code, caught.value.classification) == ("engine_probe_failed", "transport")
    assert "EACCES" in caught.value.message


async def test_module_level_engine_info(fake: FakeEngine) -> None:
    fake.configure(
        version_json={"version": "0.8.0", "protocolVersion": "0.3.0", "bundleDigest": "d"}
    )
    info = await get_engine_info()
    assert (info.engine_version, info.protocol_version, info.bundle_digest) == (
        "0.8.0",
        "0.3.0",
        "d",
    )


REFUSED: list[tuple[str, dict[str, Any]]] = [
    ("env_injection_rejected", {"env": {"extra": {"LD_PRELOAD": "/tmp/x.so"}}}),
    ("env_injection_rejected", {"env": {"extra": {"LD_AUDIT": "x"}}}),
    ("env_injection_rejected", {"env": {"extra": {"DYLD_FRAMEWORK_PATH": "x"}}}),
    ("env_injection_rejected", {"env": {"extra": {"PATH": "/evil"}}}),
    ("env_injection_rejected", {"env": {"allowlist": ["PYTHONPATH"]}}),
    ("env_injection_rejected", {"env": {"allowlist": ["PYTHONSTARTUP"]}}),
    ("env_injection_rejected", {"env": {"allowlist": [""]}}),
    ("env_injection_rejected", {"env": {"extra": {"A=B": "x"}}}),
    ("env_injection_rejected", {"env": {"extra": {"A\0B": "x"}}}),
    ("env_injection_rejected", {"env": {"extra": {"SAFE": "a\0b"}}}),
    ("invalid_approval_mode", {"approval": "sometimes"}),
    ("invalid_approval_mode", {"approval": {"mode": "always"}}),
    ("approval_not_supported_in_v1", {"approval": lambda request: "accept"}),
    ("approval_not_supported_in_v1", {"approval": {"mode": "prompt", "on_request": print}}),
    ("lifecycle_unsupported", {"lifecycle": "pooled"}),
    ("invalid_session", {"session_id": "../escape"}),
    ("invalid_session", {"session_id": "..."}),
    ("invalid_session", {"session_id": ""}),
    ("invalid_session", {"session_id": "a" * 129}),
    ("invalid_session", {"session_id": "has space"}),
]


@pytest.mark.parametrize(("code", "options"), REFUSED, ids=[c for c, _ in REFUSED])
async def test_refused_before_any_process_starts(
    fake: FakeEngine, code: str, options: dict[str, Any]
) -> None:
    arguments = {"session_id": SESSION, **options}
    with pytest.raises(AgentError) as caught:
        await spawn_agent(**arguments)
    assert caught.value.code == code
    assert caught.value.classification == "protocol"
    # The fake engine writes its marker on every start, the probe included.
    assert not fake.marker.exists()


async def test_accepted_session_ids(fake: FakeEngine) -> None:
    for session_id in ("a", "A-b_c.d:e", "x" * 128, ".hidden"):
        handle = await spawn_agent(session_id=session_id)
        assert handle.session_id == session_id


async def test_second_submit_is_lifecycle_unsupported(fake: FakeEngine) -> None:
    handle = await spawn_agent(session_id=SESSION)
    await collect(handle.submit("one"))
    with pytest.raises(AgentError) as caught:
        handle.submit("two")
    assert caught.value.code == "lifecycle_unsupported"
    assert len([r for r in fake.records() if r["argv"][0] == "run"]) == 1
