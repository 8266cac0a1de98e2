"""`run` provider auto-detection (SPEC §7.2 step 2) and routing-matrix selection (SPEC §6.5)."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import pytest

from amplifier_agent.config import provider_select
from amplifier_agent.config.credentials import CredentialResolver, Resolved
from amplifier_agent.config.host_config import ProviderChoice, RoutingConfig
from amplifier_agent.config.provider_select import (
    ProviderSelection,
    select_matrix,
    select_run_provider,
)


def select(
    tmp_path: Path,
    env: dict[str, str],
    *,
    file: dict[str, Any] | None = None,
    choice: ProviderChoice | None = None,
    local: bool = False,
) -> ProviderSelection:
    path = tmp_path / "credentials.json"
    if file is not None:
        path.write_text(json.dumps({"version": 1, "providers": file}))
        os.chmod(path, 0o600)
    resolver = CredentialResolver(env=env, credentials_path=path, warn=lambda _m: None)
    return select_run_provider(choice or ProviderChoice(), resolver, local_available=lambda: local)


def test_explicit_module_wins_even_without_credentials(tmp_path: Path) -> None:
    env = {"ANTHROPIC_API_KEY": "a"}
    chosen = select(tmp_path, env, choice=ProviderChoice(module="openai"))
    assert chosen == ProviderSelection("openai", "host_config", Resolved(None, "none"))


def test_nothing_configured_falls_back_to_anthropic(tmp_path: Path) -> None:
    assert select(tmp_path, {}) == ProviderSelection("anthropic", "default", Resolved(None, "none"))


def test_local_when_installed_and_nothing_else(tmp_path: Path) -> None:
    chosen = select(tmp_path, {}, local=True)
    assert chosen == ProviderSelection("local", "default", Resolved(None, "default"))


def test_anthropic_beats_openai(tmp_path: Path) -> None:
    chosen = select(tmp_path, {"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o"}, local=True)
    assert (chosen.module, chosen.source) == ("anthropic", "env:ANTHROPIC_API_KEY")


def test_a_file_credential_counts(tmp_path: Path) -> None:
    chosen = select(tmp_path, {}, file={"openai": {"api_key": "o"}}, local=True)
    assert chosen == ProviderSelection("openai", "file", Resolved("o", "file"))


def test_azure_needs_key_and_endpoint(tmp_path: Path) -> None:
    assert select(tmp_path, {"AZURE_OPENAI_API_KEY": "k"}).module == "anthropic"
    env = {"AZURE_OPENAI_API_KEY": "k", "AZURE_OPENAI_ENDPOINT": "https://e"}
    chosen = select(tmp_path, env)
    assert (chosen.module, chosen.source) == ("azure-openai", "env:AZURE_OPENAI_API_KEY")


def test_ollama_only_with_an_explicit_host_env(tmp_path: Path) -> None:
    assert select(tmp_path, {}, file={"ollama": {"host": "gpu:1"}}).module == "anthropic"
    chosen = select(tmp_path, {"OLLAMA_BASE_URL": "gpu:1"}, local=True)
    assert chosen == ProviderSelection(
        "ollama", "env:OLLAMA_BASE_URL", Resolved("http://gpu:1", "env:OLLAMA_BASE_URL")
    )


def test_ollama_comes_before_chat_completions(tmp_path: Path) -> None:
    env = {"OLLAMA_HOST": "h:1", "CHAT_COMPLETIONS_BASE_URL": "http://c"}
    assert select(tmp_path, env).module == "ollama"


def test_chat_completions_only_with_its_base_url(tmp_path: Path) -> None:
    assert select(tmp_path, {"CHAT_COMPLETIONS_API_KEY": "k"}).module == "anthropic"
    chosen = select(tmp_path, {"CHAT_COMPLETIONS_BASE_URL": "http://c"})
    assert chosen == ProviderSelection(
        "chat-completions", "env:CHAT_COMPLETIONS_BASE_URL", Resolved(None, "none")
    )


def test_local_installed_asks_find_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def fake_find_spec(name: str) -> None:
        asked.append(name)

    monkeypatch.setattr(importlib.util, "find_spec", fake_find_spec)
    assert provider_select.local_installed() is False
    assert asked == ["llama_cpp"]


def test_explicit_matrix_wins() -> None:
    assert select_matrix(RoutingConfig(matrix="economy"), "anthropic") == ("economy", "host_config")


@pytest.mark.parametrize(
    ("module", "matrix"),
    [
        ("anthropic", "anthropic"),
        ("openai", "openai"),
        ("azure-openai", "openai"),
        ("ollama", "ollama"),
        ("chat-completions", "balanced"),
        ("local", "balanced"),
    ],
)
def test_matrix_by_family(module: str, matrix: str) -> None:
    assert select_matrix(RoutingConfig(), module) == (matrix, "provider_family")
