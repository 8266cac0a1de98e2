"""Finding the engine binary and probing `version --json` against the wrapper's protocol pin."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from amplifier_agent_py.constants import (
    BINARY_ENV_VAR,
    ENGINE_BINARY_NAME,
    PROBE_TIMEOUT_MS,
    PROTOCOL_VERSION_REQUIRED_BY_WRAPPER,
)
from amplifier_agent_py.environment import EnvRequest, child_env
from amplifier_agent_py.errors import AgentError, errno_name
from amplifier_agent_py.process import collect

SKEW_REMEDIATION = (
    "Install an engine that speaks wire protocol 0.3.0, or set allowProtocolSkew "
    "(Python: allow_protocol_skew=True) to accept the difference."
)
PROBE_REMEDIATION = (
    "Check that the engine runs (`amplifier-agent version --json`), or set allowProtocolSkew "
    "(Python: allow_protocol_skew=True) to continue without the probe."
)


@dataclass(frozen=True)
class EngineInfo:
    """What the probe learned; empty strings when a tolerated probe failed."""

    binary_path: str
    protocol_version: str
    engine_version: str
    bundle_digest: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def find_binary(parent: Mapping[str, str]) -> str:
    """`$AMPLIFIER_AGENT_BIN` verbatim, else `amplifier-agent` on PATH."""
    explicit = parent.get(BINARY_ENV_VAR)
    if explicit:
        return explicit
    found = shutil.which(ENGINE_BINARY_NAME, path=parent.get("PATH") or os.defpath)
    if found is None:
        raise AgentError(
            "binary_not_found",
            "transport",
            f"{ENGINE_BINARY_NAME} was not found on PATH",
            remediation=f"Install {ENGINE_BINARY_NAME} or set {BINARY_ENV_VAR} to its path.",
        )
    return os.path.abspath(found)


async def get_engine_info(*, allow_protocol_skew: bool = False) -> EngineInfo:
    """Find and probe the engine without starting a turn."""
    parent = dict(os.environ)
    binary = find_binary(parent)
    return await probe_engine(binary, child_env(EnvRequest(), parent), allow_protocol_skew)


async def probe_engine(binary: str, env: Mapping[str, str], allow_skew: bool) -> EngineInfo:
    """Probe once; with `allow_skew` failures are tolerated and versions are not compared."""
    try:
        info = await _probe(binary, env)
    except AgentError:
        if allow_skew:
            return EngineInfo(binary, "", "")
        raise
    if not allow_skew and info.protocol_version != PROTOCOL_VERSION_REQUIRED_BY_WRAPPER:
        raise AgentError(
            "protocol_version_mismatch",
            "protocol",
            f"the wrapper requires wire protocol {PROTOCOL_VERSION_REQUIRED_BY_WRAPPER} "
            f"but the engine speaks {info.protocol_version}",
            remediation=SKEW_REMEDIATION,
        )
    return info


def _probe_failed(classification: str, message: str, tail: str | None = None) -> AgentError:
    return AgentError(
        "engine_probe_failed",
        classification,
        message,
        remediation=PROBE_REMEDIATION,
        stderr_tail=tail,
    )


async def _probe(binary: str, env: Mapping[str, str]) -> EngineInfo:
    try:
        done = await collect([binary, "version", "--json"], env, PROBE_TIMEOUT_MS)
    except OSError as exc:
        raise _probe_failed("transport", f"could not start {binary}: {errno_name(exc)}") from exc
    if done is None:
        raise _probe_failed("transport", f"version --json timed out after {PROBE_TIMEOUT_MS} ms")
    if done.code != 0:
        message = f"version --json exited with code {done.code}"
        raise _probe_failed("transport", message, done.stderr_tail)
    try:
        document = json.loads(done.stdout.decode("utf-8", "replace"))
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise _probe_failed("protocol", "version --json did not print a JSON object")
    version, protocol = document.get("version"), document.get("protocolVersion")
    if not (isinstance(version, str) and version and isinstance(protocol, str) and protocol):
        raise _probe_failed("protocol", "version --json lacks version or protocolVersion")
    digest = document.get("bundleDigest")
    return EngineInfo(binary, protocol, version, digest if isinstance(digest, str) else "")
