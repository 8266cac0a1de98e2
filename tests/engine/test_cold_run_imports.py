"""A one-turn `run` process imports only what its turn uses: the selected provider's SDK, not the
other one, nor MCP, the HTTP server stack or the server-side engine; price data is loaded when the
cost is computed, not as a side effect of importing a module. Observed through
`python -X importtime`, which needs no hook in the code (and never through the clock)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

from testkit import FakeUpstream, reply_text

#: Never needed by a turn that has no MCP servers configured and serves no HTTP.
NOT_FOR_A_TURN = frozenset(
    {
        "mcp",
        "starlette",
        "uvicorn",
        "amplifier_agent.server",
        "amplifier_agent.wire.dispatch",
        "amplifier_agent.tools.mcp",
        "amplifier_agent.core.registry",
        "amplifier_agent.store.reconcile",
        "amplifier_agent.engine.server_setup",
        "amplifier_agent.engine.dispatch_turn",
        "amplifier_agent.engine.diagnostics",
    }
)

#: provider -> (its SDK, its adapter, the other provider's SDK, the other adapter)
PROVIDERS = {
    "anthropic": (
        "anthropic",
        "amplifier_agent.providers.anthropic",
        "openai",
        "amplifier_agent.providers.chat_completions",
    ),
    "openai": (
        "openai",
        "amplifier_agent.providers.chat_completions",
        "anthropic",
        "amplifier_agent.providers.anthropic",
    ),
}


@dataclass(frozen=True)
class ImportTrace:
    """The modules one process imported, with how deep in an import chain each one was."""

    depth: dict[str, int]

    @classmethod
    def parse(cls, stderr: str) -> ImportTrace:
        depth: dict[str, int] = {}
        for line in stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            name_field = line.rsplit("|", 1)[1]
            name = name_field.strip()
            # One leading space, then two per level of nesting.
            depth[name] = (len(name_field) - len(name_field.lstrip()) - 1) // 2
        return cls(depth)

    @property
    def modules(self) -> set[str]:
        return set(self.depth)


def provider_env(provider: str, url: str) -> dict[str, str]:
    env = dict(os.environ)
    if provider == "anthropic":
        env.update(ANTHROPIC_API_KEY="sk-ant-test", ANTHROPIC_BASE_URL=url)
    else:
        env.update(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=f"{url}/v1")
    return env


def traced_turn(provider: str, fake: FakeUpstream) -> tuple[dict[str, object], ImportTrace]:
    argv = [sys.executable, "-X", "importtime", "-m", "amplifier_agent"]
    argv += ["run", "-y", "--quiet", "--output", "json", "hi"]
    result = subprocess.run(
        argv,
        env=provider_env(provider, fake.url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout), ImportTrace.parse(result.stderr)


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_a_turn_imports_only_the_selected_provider(
    provider: str, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.set_default(reply_text("ok"))
    sdk, adapter, other_sdk, other_adapter = PROVIDERS[provider]

    envelope, trace = traced_turn(provider, fake_upstream)

    assert envelope["reply"] == "ok"
    assert {sdk, adapter} <= trace.modules  # the turn really went through this provider
    unwanted = trace.modules & (NOT_FOR_A_TURN | {other_sdk, other_adapter})
    assert not unwanted, sorted(unwanted)
    metadata = envelope["metadata"]
    assert isinstance(metadata, dict)
    assert metadata["costUsd"] not in (None, "0")  # a known model is still priced
    # Depth 0: price data is imported from inside the cost computation, not pulled in by the
    # import of some module on the way.
    assert trace.depth.get("genai_prices") == 0, trace.depth.get("genai_prices")
