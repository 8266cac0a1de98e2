"""`list_models`: the engine's `models list --output json`, parsed, as one dictionary."""

from __future__ import annotations

import json
import os
from typing import Any

from amplifier_agent_py.constants import MODELS_TIMEOUT_MS
from amplifier_agent_py.discovery import find_binary
from amplifier_agent_py.environment import EnvRequest, child_env
from amplifier_agent_py.errors import AgentError, errno_name
from amplifier_agent_py.process import collect

#: Aggregate mode exits 2 when no provider answered, yet its per-provider rows are the answer.
_AGGREGATE_PARTIAL_EXIT = 2


async def list_models(provider: str | None = None, timeout_ms: int = MODELS_TIMEOUT_MS) -> Any:
    """One provider's listing, or (without `provider`) the aggregate over the catalog."""
    parent = dict(os.environ)
    binary = find_binary(parent)
    argv = [binary, "models", "list", "--output", "json"]
    if provider is not None:
        argv += ["--provider", provider]
    try:
        done = await collect(argv, child_env(EnvRequest(), parent), timeout_ms)
    except OSError as exc:
        message = f"could not start {binary}: {errno_name(exc)}"
        raise AgentError("spawn_failed", "transport", message) from exc
    if done is None:
        raise _failed(f"models list timed out after {timeout_ms} ms", None, "")
    accepted = {0} if provider is not None else {0, _AGGREGATE_PARTIAL_EXIT}
    if done.code not in accepted:
        raise _failed(f"models list exited with code {done.code}", done.code, done.stderr_tail)
    try:
        return json.loads(done.stdout.decode("utf-8", "replace"))
    except ValueError as exc:
        message = "models list did not print JSON"
        raise _failed(message, done.code, done.stderr_tail) from exc


def _failed(message: str, exit_code: int | None, stderr_tail: str) -> AgentError:
    return AgentError(
        "models_list_failed", "engine", message, exit_code=exit_code, stderr_tail=stderr_tail
    )
