"""Provider `config` is parsed once, when settings are built: bad values fail then, typed."""

from __future__ import annotations

from typing import Any

import pytest

from amplifier_agent.core.errors import ConfigError
from amplifier_agent.providers.base import ProviderSettings
from amplifier_agent.providers.options import DEFAULT_STALL_TIMEOUT_S, ProviderOptions


def settings(**config: Any) -> ProviderSettings:
    return ProviderSettings("p", "openai", api_key="k", config=config)


def test_an_empty_config_gives_the_defaults() -> None:
    assert settings().options == ProviderOptions()
    assert settings().stall_timeout_s() == DEFAULT_STALL_TIMEOUT_S


def test_every_read_key_is_typed() -> None:
    options = settings(
        default_model="gpt-5",
        max_tokens=2000,
        temperature=1,
        top_p=0.5,
        effort="low",
        thinking_budget_tokens=1024,
        stall_timeout_s=0,
        pricing={"input": 1, "output": "2.5"},
        models=["a", "b"],
        something_else={"passes": "through"},
    ).options
    assert options == ProviderOptions(
        default_model="gpt-5",
        max_tokens=2000,
        temperature=1.0,
        top_p=0.5,
        effort="low",
        thinking_budget_tokens=1024,
        stall_timeout_s=None,
        pricing={"input": 1, "output": "2.5"},
        models=("a", "b"),
    )


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"top_p": 1.5}, "config.top_p"),
        ({"top_p": "high"}, "config.top_p"),
        ({"temperature": -1}, "config.temperature"),
        ({"max_tokens": "big"}, "config.max_tokens"),
        ({"max_tokens": 10.5}, "config.max_tokens"),
        ({"max_tokens": True}, "config.max_tokens"),
        ({"stall_timeout_s": "soon"}, "config.stall_timeout_s"),
        ({"effort": 3}, "config.effort"),
        ({"models": "gpt-5"}, "config.models"),
        ({"pricing": {"input": 1}}, "config.pricing.output"),
        ({"pricing": {"input": -1, "output": 1}}, "config.pricing.input"),
        ({"pricing": [1, 2]}, "config.pricing"),
    ],
)
def test_a_bad_value_fails_when_settings_are_built(config: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(**config)
    assert caught.value.code == "config_invalid_type"
    assert named in caught.value.message
