"""The one resolver: credential precedence, endpoints and API version (SPEC §4.1, §5.1)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from amplifier_agent.config.credentials import (
    CredentialResolver,
    Resolved,
    resolve_api_version,
    resolve_credential,
    resolve_endpoint,
)
from amplifier_agent.core.errors import ConfigError


@pytest.fixture
def creds(tmp_path: Path) -> Path:
    return tmp_path / "creds" / "credentials.json"


def write_file(path: Path, providers: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 1, "providers": providers}))
    os.chmod(path, 0o600)


def resolver(
    path: Path, env: dict[str, str], warnings: list[str] | None = None
) -> CredentialResolver:
    sink = warnings if warnings is not None else []
    return CredentialResolver(env=env, credentials_path=path, warn=sink.append)


FILE_KEY = {"anthropic": {"api_key": "from-file"}}


@pytest.mark.parametrize(
    ("env", "file", "expected"),
    [
        (
            {"ANTHROPIC_API_KEY": "from-env"},
            FILE_KEY,
            Resolved("from-env", "env:ANTHROPIC_API_KEY"),
        ),
        ({"ANTHROPIC_API_KEY": "from-env"}, {}, Resolved("from-env", "env:ANTHROPIC_API_KEY")),
        ({}, FILE_KEY, Resolved("from-file", "file")),
        ({"ANTHROPIC_API_KEY": ""}, FILE_KEY, Resolved("from-file", "file")),
        ({"ANTHROPIC_API_KEY": "   "}, FILE_KEY, Resolved("from-file", "file")),
        ({}, {}, Resolved(None, "none")),
        ({}, {"anthropic": {"api_key": ""}}, Resolved(None, "none")),
        ({"OPENAI_API_KEY": "other"}, {"openai": {"api_key": "x"}}, Resolved(None, "none")),
    ],
)
def test_credential_precedence(
    creds: Path, env: dict[str, str], file: dict[str, Any], expected: Resolved
) -> None:
    write_file(creds, file)
    assert resolver(creds, env).credential("anthropic") == expected


def test_api_key_env_is_consulted_first(creds: Path) -> None:
    write_file(creds, {"openai": {"api_key": "from-file"}})
    env = {"MY_KEY": "custom", "OPENAI_API_KEY": "primary"}
    config = {"api_key_env": "MY_KEY"}
    assert resolver(creds, env).credential("openai", config=config) == Resolved(
        "custom", "env:MY_KEY"
    )
    assert resolver(creds, {"OPENAI_API_KEY": "primary"}).credential(
        "openai", config=config
    ) == Resolved("primary", "env:OPENAI_API_KEY")


def test_alias_warns_once_per_resolver(creds: Path) -> None:
    warnings: list[str] = []
    r = resolver(creds, {"AZURE_OPENAI_KEY": "old-name"}, warnings)
    assert r.credential("azure-openai") == Resolved("old-name", "env:AZURE_OPENAI_KEY")
    assert r.credential("azure-openai") == Resolved("old-name", "env:AZURE_OPENAI_KEY")
    assert warnings == ["[WARN] AZURE_OPENAI_KEY is deprecated; use AZURE_OPENAI_API_KEY"]


def test_alias_beats_the_file_and_primary_beats_alias(creds: Path) -> None:
    write_file(creds, {"azure-openai": {"api_key": "from-file"}})
    warnings: list[str] = []
    assert resolver(creds, {"AZURE_OPENAI_KEY": "alias"}, warnings).credential(
        "azure-openai"
    ) == Resolved("alias", "env:AZURE_OPENAI_KEY")
    assert len(warnings) == 1
    both = {"AZURE_OPENAI_KEY": "alias", "AZURE_OPENAI_API_KEY": "primary"}
    warnings.clear()
    assert resolver(creds, both, warnings).credential("azure-openai") == Resolved(
        "primary", "env:AZURE_OPENAI_API_KEY"
    )
    assert warnings == []


def test_default_warning_goes_to_stderr(creds: Path, capsys: pytest.CaptureFixture[str]) -> None:
    CredentialResolver(env={"AZURE_OPENAI_KEY": "k"}, credentials_path=creds).credential(
        "azure-openai"
    )
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "[WARN] AZURE_OPENAI_KEY is deprecated; use AZURE_OPENAI_API_KEY\n"


def test_catalog_defaults(creds: Path) -> None:
    r = resolver(creds, {})
    assert r.credential("local") == Resolved(None, "default")
    assert r.credential("ollama") == Resolved("http://localhost:11434", "default")
    assert r.credential("chat-completions") == Resolved(None, "none")


def test_file_entries_by_provider_id_then_module(creds: Path) -> None:
    write_file(creds, {"work": {"api_key": "work-key"}, "openai": {"api_key": "module-key"}})
    r = resolver(creds, {})
    assert r.credential("openai", provider_id="work") == Resolved("work-key", "file")
    assert r.credential("openai", provider_id="play") == Resolved("module-key", "file")
    write_file(creds, {"work": {"endpoint": "u"}, "openai": {"api_key": "module-key"}})
    assert r.credential("openai", provider_id="work") == Resolved("module-key", "file")


def test_the_file_is_read_only_when_env_does_not_answer(creds: Path) -> None:
    creds.parent.mkdir()
    creds.write_text("{corrupt")
    os.chmod(creds, 0o600)
    env_hit = resolver(creds, {"OPENAI_API_KEY": "k"}).credential("openai")
    assert env_hit.source == "env:OPENAI_API_KEY"
    with pytest.raises(ConfigError) as caught:
        resolver(creds, {}).credential("openai")
    assert caught.value.code == "credentials_corrupt"
    assert str(creds) in caught.value.message


def test_nothing_is_cached_between_lookups(creds: Path) -> None:
    r = resolver(creds, {})
    assert r.credential("openai").source == "none"
    write_file(creds, {"openai": {"api_key": "later"}})
    assert r.credential("openai") == Resolved("later", "file")


# --- endpoints --------------------------------------------------------------------------------


@pytest.mark.parametrize("module", ["anthropic", "openai"])
def test_sdk_endpoints(creds: Path, module: str) -> None:
    var = f"{module.upper()}_BASE_URL"
    config = {"base_url": "http://cfg"}
    assert resolver(creds, {var: "http://env"}).endpoint(module, config=config) == Resolved(
        "http://cfg", "host_config"
    )
    assert resolver(creds, {var: "http://env"}).endpoint(module) == Resolved(
        "http://env", f"env:{var}"
    )
    assert resolver(creds, {}).endpoint(module) == Resolved(None, "default")


def test_azure_endpoint_order(creds: Path) -> None:
    write_file(creds, {"azure-openai": {"api_key": "k", "endpoint": "https://file"}})
    config = {"base_url": "https://cfg"}
    env = {"AZURE_OPENAI_ENDPOINT": "https://env"}
    assert resolver(creds, env).endpoint("azure-openai", config=config) == Resolved(
        "https://env", "env:AZURE_OPENAI_ENDPOINT"
    )
    assert resolver(creds, {}).endpoint("azure-openai", config=config) == Resolved(
        "https://file", "file"
    )
    write_file(creds, {})
    assert resolver(creds, {}).endpoint("azure-openai", config=config) == Resolved(
        "https://cfg", "host_config"
    )
    assert resolver(creds, {}).endpoint("azure-openai") == Resolved(None, "none")


def test_ollama_host_order_and_scheme(creds: Path) -> None:
    write_file(creds, {"ollama": {"host": "filehost:11434"}})
    both = {"OLLAMA_HOST": "envhost:1", "OLLAMA_BASE_URL": "https://base:2"}
    assert resolver(creds, both).endpoint("ollama") == Resolved(
        "http://envhost:1", "env:OLLAMA_HOST"
    )
    assert resolver(creds, {"OLLAMA_BASE_URL": "https://base:2"}).endpoint("ollama") == Resolved(
        "https://base:2", "env:OLLAMA_BASE_URL"
    )
    assert resolver(creds, {}).endpoint("ollama") == Resolved("http://filehost:11434", "file")
    write_file(creds, {})
    assert resolver(creds, {}).endpoint("ollama") == Resolved("http://localhost:11434", "default")


def test_chat_completions_endpoint_order(creds: Path) -> None:
    write_file(creds, {"chat-completions": {"endpoint": "http://file"}})
    env = {"CHAT_COMPLETIONS_BASE_URL": "http://env"}
    config = {"base_url": "http://cfg"}
    r_env = resolver(creds, env)
    assert r_env.endpoint("chat-completions", config=config) == Resolved(
        "http://cfg", "host_config"
    )
    assert r_env.endpoint("chat-completions") == Resolved(
        "http://env", "env:CHAT_COMPLETIONS_BASE_URL"
    )
    assert resolver(creds, {}).endpoint("chat-completions") == Resolved("http://file", "file")
    write_file(creds, {})
    assert resolver(creds, {}).endpoint("chat-completions") == Resolved(None, "none")


def test_api_version_order() -> None:
    env = {"OPENAI_API_VERSION": "2025-01-01"}
    assert resolve_api_version({"api_version": "2024-06-01"}, env=env) == Resolved(
        "2024-06-01", "host_config"
    )
    assert resolve_api_version({}, env=env) == Resolved("2025-01-01", "env:OPENAI_API_VERSION")
    assert resolve_api_version(None, env={}) == Resolved("2024-10-21", "default")


def test_module_functions_use_the_home_from_env(tmp_path: Path) -> None:
    home = tmp_path / "alt-home"
    write_file(home / "credentials.json", {"work": {"api_key": "w", "endpoint": "http://e"}})
    env = {"AMPLIFIER_AGENT_HOME": str(home)}
    assert resolve_credential("openai", provider_id="work", env=env) == Resolved("w", "file")
    assert resolve_endpoint("chat-completions", provider_id="work", env=env) == Resolved(
        "http://e", "file"
    )


def test_unknown_module_is_a_value_error(creds: Path) -> None:
    with pytest.raises(ValueError, match="gpt"):
        resolver(creds, {}).credential("gpt")
