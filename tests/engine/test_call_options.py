"""The root call's output budget (SPEC §5.2, §8.4): request > config > model max > 8192."""

from __future__ import annotations

from pathlib import Path

import pytest

from amplifier_agent.agent.approval import ApprovalPolicy
from amplifier_agent.agent.routing import UsableProvider
from amplifier_agent.agent.run import CallOptions
from amplifier_agent.config.host_config import HostConfig
from amplifier_agent.core.models import ModelInfo
from amplifier_agent.engine.turn_assembly import call_options
from amplifier_agent.engine.turn_types import TurnSetup
from amplifier_agent.engine.usable import ProviderRef


def setup_for(module: str, config: dict[str, object], requested: int | None) -> TurnSetup:
    return TurnSetup(
        face="http",
        cwd=Path("."),
        workspace="ws",
        turn_id="turn-1",
        request_id="r",
        host_config=HostConfig(),
        active=ProviderRef(module, module, config),
        approval=ApprovalPolicy.build("no"),
        new_messages=(),
        options=CallOptions(max_tokens=requested),
    )


def listed(model: str, max_output: int | None) -> UsableProvider:
    return UsableProvider("p", "openai", [ModelInfo(model, model, 0, 1000, max_output)])


@pytest.mark.parametrize(
    ("config", "requested", "max_output", "expected"),
    [
        ({}, None, 4000, 4000),  # the model's max output
        ({}, None, None, 8192),  # nothing known
        ({"max_tokens": 1000}, None, 4000, 1000),  # config
        ({"max_tokens": 1000}, 2000, 4000, 2000),  # the request wins
        ({}, 50_000, 4000, 4000),  # clamped to the known max output
    ],
)
def test_budget_precedence(
    config: dict[str, object], requested: int | None, max_output: int | None, expected: int
) -> None:
    options = call_options(setup_for("openai", config, requested), listed("m", max_output), "m")
    assert options.max_tokens == expected


def test_metadata_fills_in_for_an_unlisted_model() -> None:
    unlisted = UsableProvider("p", "anthropic", None)
    options = call_options(setup_for("anthropic", {}, None), unlisted, "claude-sonnet-4-5")
    assert options.max_tokens == 64000


def test_local_keeps_its_own_default() -> None:
    options = call_options(setup_for("local", {}, None), listed("smollm2", 8192), "smollm2")
    assert options.max_tokens is None
