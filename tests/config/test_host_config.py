"""host_config: resolution, the closed schema and every error code (SPEC §3)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from amplifier_agent.config.host_config import (
    HostConfig,
    ProviderEntry,
    load_host_config,
    locate_host_config,
    parse_host_config,
    read_host_config,
)
from amplifier_agent.core.errors import ConfigError


def write_config(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "host_config.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def error_of(tmp_path: Path, document: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        read_host_config(write_config(tmp_path, document))
    return caught.value


# --- resolution -------------------------------------------------------------------------------


def test_flag_beats_env(tmp_path: Path) -> None:
    env = {"AMPLIFIER_AGENT_CONFIG": str(tmp_path / "env.json")}
    location = locate_host_config(str(tmp_path / "flag.json"), env)
    assert (location.path, location.source) == (tmp_path / "flag.json", "--config")


def test_env_is_used_without_flag(tmp_path: Path) -> None:
    env = {"AMPLIFIER_AGENT_CONFIG": str(tmp_path / "env.json")}
    location = locate_host_config(None, env)
    assert (location.path, location.source) == (tmp_path / "env.json", "env:AMPLIFIER_AGENT_CONFIG")


@pytest.mark.parametrize("env", [{}, {"AMPLIFIER_AGENT_CONFIG": "  "}])
def test_no_implicit_file(env: dict[str, str]) -> None:
    location, config = load_host_config(None, env)
    assert (location.path, location.source) == (None, "none")
    assert config == HostConfig()


def test_load_reads_the_located_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"approval": {"mode": "yes"}})
    location, config = load_host_config(None, {"AMPLIFIER_AGENT_CONFIG": str(path)})
    assert location.path == path
    assert config.approval.mode == "yes"


# --- error codes ------------------------------------------------------------------------------


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_host_config(str(tmp_path / "absent.json"), {})
    assert caught.value.code == "config_unreadable"
    assert "absent.json" in caught.value.message


def test_a_directory_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        read_host_config(tmp_path)
    assert caught.value.code == "config_unreadable"


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '"text"', "42", "", "\xff"])
def test_malformed_json(tmp_path: Path, text: str) -> None:
    path = tmp_path / "host_config.json"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ConfigError) as caught:
        read_host_config(path)
    assert caught.value.code == "config_malformed_json"
    assert str(path) in caught.value.message


@pytest.mark.parametrize(
    ("document", "json_path"),
    [
        ({"bogus": 1}, "bogus"),
        ({"providers": {"openai": {"confg": {}}}}, "providers.openai.confg"),
        ({"provider": {"modul": "openai"}}, "provider.modul"),
        ({"approval": {"mode": "yes", "extra": 1}}, "approval.extra"),
        ({"mcp": {"config_path": "x"}}, "mcp.config_path"),
        ({"skills": {"visibility": {"include": []}}}, "skills.visibility.include"),
        (
            {"host_tools": [{"type": "function", "function": {"name": "t", "x": 1}}]},
            "host_tools[0].function.x",
        ),
        (
            {"host_tools": [{"type": "function", "function": {"name": "t"}, "y": 1}]},
            "host_tools[0].y",
        ),
        ({"routing": {"roles": {"writer": ["a/b"]}}}, "routing.roles.writer"),
        ({"routing": {"fallback": "x"}}, "routing.fallback"),
    ],
)
def test_unknown_keys_name_their_json_path(tmp_path: Path, document: Any, json_path: str) -> None:
    error = error_of(tmp_path, document)
    assert error.code == "config_unknown_key"
    assert json_path in error.message


@pytest.mark.parametrize(
    ("document", "json_path"),
    [
        ({"allowProtocolSkew": 1}, "allowProtocolSkew"),
        ({"allowProtocolSkew": "true"}, "allowProtocolSkew"),
        ({"provider": []}, "provider"),
        ({"provider": {"module": 3}}, "provider.module"),
        ({"provider": {"config": "x"}}, "provider.config"),
        ({"provider": {"config": {"max_tokens": "big"}}}, "provider.config.max_tokens"),
        ({"provider": {"config": {"max_tokens": True}}}, "provider.config.max_tokens"),
        ({"provider": {"config": {"temperature": -1}}}, "provider.config.temperature"),
        ({"provider": {"config": {"top_p": 1.5}}}, "provider.config.top_p"),
        ({"provider": {"config": {"top_p": "high"}}}, "provider.config.top_p"),
        ({"provider": {"config": {"pricing": {"input": 1}}}}, "provider.config.pricing.output"),
        ({"providers": []}, "providers"),
        ({"providers": {"-bad": {}}}, "providers.-bad"),
        ({"providers": {"x" * 65: {}}}, "providers." + "x" * 65),
        (
            {"providers": {"openai": {"config": {"models": "gpt-5"}}}},
            "providers.openai.config.models",
        ),
        ({"approval": {"mode": "maybe"}}, "approval.mode"),
        ({"approval": {"patterns": "rm *"}}, "approval.patterns"),
        ({"approval": {"patterns": [1]}}, "approval.patterns[0]"),
        ({"mcp": {"configPath": 5}}, "mcp.configPath"),
        ({"skills": {"skills": [None]}}, "skills.skills[0]"),
        ({"host_tools": {}}, "host_tools"),
        ({"host_tools": [{"type": "tool", "function": {"name": "t"}}]}, "host_tools[0].type"),
        ({"host_tools": [{"type": "function"}]}, "host_tools[0].function"),
        ({"host_tools": [{"type": "function", "function": {"name": "a b"}}]}, "function.name"),
        (
            {"host_tools": [{"type": "function", "function": {"name": "t", "parameters": []}}]},
            "host_tools[0].function.parameters",
        ),
        (
            {
                "host_tools": [
                    {"type": "function", "function": {"name": "t"}},
                    {"type": "function", "function": {"name": "t"}},
                ]
            },
            "host_tools[1].function.name",
        ),
        ({"routing": {"matrix": "fancy"}}, "routing.matrix"),
        ({"routing": {"roles": {"fast": "a/b"}}}, "routing.roles.fast"),
        ({"routing": {"roles": {"fast": ["no-slash"]}}}, "routing.roles.fast[0]"),
    ],
)
def test_wrong_types_and_values(tmp_path: Path, document: Any, json_path: str) -> None:
    error = error_of(tmp_path, document)
    assert error.code == "config_invalid_type"
    assert json_path in error.message


@pytest.mark.parametrize(
    "document",
    [
        {"provider": {"module": "auto"}},
        {"provider": {"module": "gpt"}},
        {"providers": {"work": {"module": "not-a-module"}}},
    ],
)
def test_modules_outside_the_catalog(tmp_path: Path, document: Any) -> None:
    assert error_of(tmp_path, document).code == "config_invalid_provider_module"


def test_an_id_without_module_must_be_a_catalog_name(tmp_path: Path) -> None:
    error = error_of(tmp_path, {"providers": {"work": {"config": {}}}})
    assert error.code == "config_no_matching_module"
    assert "providers.work" in error.message


# --- values -----------------------------------------------------------------------------------


def test_null_root_is_empty() -> None:
    assert parse_host_config(None) == HostConfig()


def test_providers_absent_versus_empty() -> None:
    assert parse_host_config({}).providers is None
    assert parse_host_config({"providers": {}}).providers == ()


def test_provider_entries_keep_order_and_default_module_to_id() -> None:
    config = parse_host_config(
        {
            "providers": {
                "ollama": {},
                "work.openai": {"module": "openai", "config": {"default_model": "gpt-5"}},
            }
        }
    )
    assert config.providers == (
        ProviderEntry("ollama", "ollama", {}),
        ProviderEntry("work.openai", "openai", {"default_model": "gpt-5"}),
    )


def test_api_key_in_provider_config_is_dropped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        config = parse_host_config(
            {
                "provider": {"module": "openai", "config": {"api_key": "sk-x", "base_url": "u"}},
                "providers": {"openai": {"config": {"api_key": "sk-y"}}},
            }
        )
    assert dict(config.provider.config) == {"base_url": "u"}
    assert config.providers is not None
    assert dict(config.providers[0].config) == {}
    assert "provider.config.api_key is ignored" in caplog.text
    assert "providers.openai.config.api_key is ignored" in caplog.text
    assert "sk-x" not in caplog.text


def test_a_full_valid_document() -> None:
    config = parse_host_config(
        {
            "provider": {"module": "anthropic", "config": {"default_model": "m", "extra": [1]}},
            "approval": {"mode": "prompt", "patterns": ["rm *"]},
            "mcp": {"configPath": "/etc/mcp.json"},
            "skills": {"skills": ["/s"], "visibility": {"exclude": ["hidden"]}},
            "host_tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "read_file",
                        "description": "d",
                        "parameters": {"type": "object"},
                        "strict": True,
                    },
                }
            ],
            "routing": {"matrix": "economy", "roles": {"fast": ["ollama/*"]}},
            "allowProtocolSkew": False,
        }
    )
    assert config.provider.module == "anthropic"
    assert config.provider.config["extra"] == [1]
    assert config.approval.mode == "prompt"
    assert config.approval.patterns == ("rm *",)
    assert config.mcp_config_path == "/etc/mcp.json"
    assert config.skills.dirs == ("/s",)
    assert config.skills.exclude == ("hidden",)
    assert [t.name for t in config.host_tools] == ["read_file"]
    assert config.host_tools[0].parameters == {"type": "object"}
    assert config.routing.matrix == "economy"
    assert dict(config.routing.roles) == {"fast": ("ollama/*",)}
    assert config.allow_protocol_skew is False


def test_config_values_are_frozen() -> None:
    config = parse_host_config({"provider": {"config": {"default_model": "m"}}})
    with pytest.raises(TypeError):
        config.provider.config["default_model"] = "other"  # type: ignore[index]
