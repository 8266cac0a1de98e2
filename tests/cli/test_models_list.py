"""`models list` (SPEC §5.5): the installed CLI against the loopback fake upstream.

Each CLI test runs `python -m amplifier_agent models list ...` in a subprocess whose environment is
the scrubbed test environment plus the provider variables the test sets.
"""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from amplifier_agent.cli.models import (
    Outcome,
    family_of,
    latest_per_family,
    render_aggregate_table,
    render_models_table,
)
from amplifier_agent.core.models import ModelInfo
from testkit import FakeUpstream
from testkit.server import DEFAULT_MODELS

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
ISO_UTC_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
#: The fake Anthropic API lists newest first, as the real one does.
LISTED = sorted(DEFAULT_MODELS, key=lambda m: int(m["created"]), reverse=True)
CATALOG_ORDER = ["anthropic", "openai", "azure-openai", "ollama", "chat-completions", "local"]


def models_list(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    child_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "amplifier_agent", "models", "list", *args],
        capture_output=True,
        text=True,
        env=child_env,
        timeout=120,
        check=False,
    )


def anthropic_env(fake: FakeUpstream) -> dict[str, str]:
    return {"ANTHROPIC_API_KEY": "sk-ant-test-key-0000", "ANTHROPIC_BASE_URL": fake.url}


def local_model_missing(tmp_path: Path) -> str:
    """A host_config pointing the `local` provider at a model file that does not exist."""
    config = tmp_path / "no-local-model.json"
    missing = tmp_path / "missing-model.gguf"
    config.write_text(
        json.dumps({"providers": {"local": {"config": {"model_path": str(missing)}}}})
    )
    return str(config)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def model(model_id: str, created: int = 0, **fields: Any) -> dict[str, Any]:
    return {"id": model_id, "created": created, "display_name": model_id.title(), **fields}


# -- single provider ----------------------------------------------------------------------


def test_single_provider_json(fake_upstream: FakeUpstream, isolated_home: Path) -> None:
    result = models_list(
        "--provider", "anthropic", "--output", "json", env=anthropic_env(fake_upstream)
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert list(document) == ["schema_version", "provider", "fetched_at", "filtered", "models"]
    assert document["schema_version"] == 1
    assert document["provider"] == "anthropic"
    assert document["filtered"] is False
    assert ISO_UTC.match(document["fetched_at"])
    assert [m["id"] for m in document["models"]] == [m["id"] for m in LISTED]
    sonnet = document["models"][1]
    assert sonnet == {
        "id": "claude-sonnet-4-5-20250929",
        "display_name": "Claude Sonnet 4.5",
        "created": 1759104000,
        "context_window": 200000,
        "max_output_tokens": 64000,
        "capabilities": ["tools", "streaming", "thinking", "vision"],
        "defaults": {},
    }
    listings = [r for r in fake_upstream.requests if r.path == "/v1/models"]
    assert listings and listings[0].method == "GET"
    # A successful listing is cached privately for routing.
    cache = isolated_home / "cache" / "models" / "anthropic.json"
    cached = json.loads(cache.read_text())
    assert ISO_UTC_PREFIX.match(cached["fetched_at"])
    assert cached["models"] == [{"id": m["id"], "created": m["created"]} for m in LISTED]
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    for directory in (cache.parent, cache.parent.parent, isolated_home):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_single_provider_table(fake_upstream: FakeUpstream) -> None:
    result = models_list(
        "--provider", "anthropic", "--output", "table", env=anthropic_env(fake_upstream)
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"ID +DISPLAY NAME +CONTEXT +CAPABILITIES", lines[0])
    assert len(lines) == 1 + len(DEFAULT_MODELS)
    sonnet = re.split(r" {2,}", lines[2])
    assert sonnet == [
        "claude-sonnet-4-5-20250929",
        "Claude Sonnet 4.5",
        "200000",
        "tools, streaming, thinking, vision",
    ]


def test_auto_output_is_json_when_stdout_is_not_a_terminal(fake_upstream: FakeUpstream) -> None:
    result = models_list("--provider", "anthropic", env=anthropic_env(fake_upstream))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["provider"] == "anthropic"


def test_latest_keeps_the_newest_model_per_family(fake_upstream: FakeUpstream) -> None:
    fake_upstream.set_models(
        [
            model("claude-3-5-sonnet-20240620", 100),
            model("claude-3-5-sonnet-latest", 300),
            model("claude-3-5-sonnet-20241022", 200),
            model("claude-sonnet-4-20250514", 400),
            model("gpt-5-2025-08-07", 500),
            model("gpt-5", 400),
        ]
    )
    env = anthropic_env(fake_upstream)
    result = models_list("--provider", "anthropic", "--output", "json", "--latest", env=env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["filtered"] is True
    ids = [m["id"] for m in document["models"]]
    assert ids == ["gpt-5-2025-08-07", "claude-sonnet-4-20250514", "claude-3-5-sonnet-latest"]


def test_empty_listing_exits_0_with_a_note(
    fake_upstream: FakeUpstream, isolated_home: Path
) -> None:
    fake_upstream.set_models([])
    result = models_list(
        "--provider", "anthropic", "--output", "json", env=anthropic_env(fake_upstream)
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["models"] == []
    assert result.stderr.strip() == "# anthropic: no live model list available"


def test_missing_credentials_exit_2_naming_the_variable() -> None:
    result = models_list("--provider", "openai", "--output", "json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("# openai: ")
    assert "OPENAI_API_KEY" in result.stderr


def test_missing_endpoint_exit_2_naming_the_variable() -> None:
    result = models_list("--provider", "chat-completions", "--output", "json")
    assert result.returncode == 2
    assert result.stderr.startswith("# chat-completions: ")
    assert "CHAT_COMPLETIONS_BASE_URL" in result.stderr


def test_unreachable_provider_exit_2() -> None:
    env = {"ANTHROPIC_API_KEY": "sk-ant-test-key-0000", "ANTHROPIC_BASE_URL": closed_port_url()}
    result = models_list("--provider", "anthropic", "--output", "json", "--timeout", "10", env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("# anthropic: ")


@pytest.mark.local_model  # without llama-cpp-python the error names the missing package instead
def test_adapter_init_failure_exit_2(tmp_path: Path) -> None:
    config = local_model_missing(tmp_path)
    result = models_list("--provider", "local", "--output", "json", "--config", config)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("# local: ")
    assert "missing-model.gguf" in result.stderr


def test_unknown_provider_exit_1() -> None:
    result = models_list("--provider", "nope")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Unknown provider 'nope'. Known: anthropic, azure-openai")


def test_provider_id_from_host_config_uses_its_config(
    fake_upstream: FakeUpstream, tmp_path: Path, isolated_home: Path
) -> None:
    config = tmp_path / "host.json"
    config.write_text(
        json.dumps(
            {
                "providers": {
                    "claude": {"module": "anthropic", "config": {"base_url": fake_upstream.url}}
                }
            }
        )
    )
    env = {"ANTHROPIC_API_KEY": "sk-ant-test-key-0000"}
    result = models_list(
        "--provider", "claude", "--output", "json", "--config", str(config), env=env
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["provider"] == "claude"
    assert len(document["models"]) == len(DEFAULT_MODELS)
    assert (isolated_home / "cache" / "models" / "claude.json").exists()
    # Without the host_config entry the name is unknown.
    assert models_list("--provider", "claude", env=env).returncode == 1


def test_bad_host_config_is_an_error_line_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "host.json"
    config.write_text("{not json")
    result = models_list("--provider", "anthropic", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.startswith("[error] config_malformed_json: ")


# -- aggregate ----------------------------------------------------------------------------


def test_aggregate_json_with_one_provider_ok(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    config = local_model_missing(tmp_path)
    env = anthropic_env(fake_upstream)
    result = models_list("--output", "json", "--timeout", "10", "--config", config, env=env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert list(document) == ["schema_version", "fetched_at", "filtered", "results"]
    assert document["schema_version"] == 1 and document["filtered"] is False
    assert ISO_UTC.match(document["fetched_at"])
    results = {r["provider"]: r for r in document["results"]}
    assert [r["provider"] for r in document["results"]] == CATALOG_ORDER
    assert results["anthropic"]["status"] == "ok"
    assert "error" not in results["anthropic"]
    assert len(results["anthropic"]["models"]) == len(DEFAULT_MODELS)
    for provider, variable in [
        ("openai", "OPENAI_API_KEY"),
        ("azure-openai", "AZURE_OPENAI_API_KEY"),
        ("chat-completions", "CHAT_COMPLETIONS_BASE_URL"),
    ]:
        assert results[provider]["status"] == "credentials_missing"
        assert results[provider]["models"] == []
        assert variable in results[provider]["error"]
    assert results["local"]["status"] == "module_not_installed"
    # Nothing names an Ollama host and none runs on the default one: not configured, no outage.
    assert results["ollama"]["status"] == "credentials_missing"
    assert results["ollama"]["error"].startswith("not configured: ")
    assert "OLLAMA_HOST" in results["ollama"]["error"]
    assert "upstream_unavailable" not in results["ollama"]["error"]


def test_aggregate_table(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    config = local_model_missing(tmp_path)
    result = models_list("--output", "table", "--config", config, env=anthropic_env(fake_upstream))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"PROVIDER +STATUS +MODELS", lines[0])
    rows = {re.split(r" {2,}", line)[0]: re.split(r" {2,}", line, maxsplit=2) for line in lines[1:]}
    assert rows["anthropic"][1:] == [
        "ok",
        "claude-haiku-4-5-20251001, claude-sonnet-4-5-20250929, gpt-5, … (4 total)",
    ]
    assert rows["openai"][1] == "credentials_missing"
    assert rows["openai"][2].startswith("— (") and "OPENAI_API_KEY" in rows["openai"][2]


def test_aggregate_with_nothing_configured_exits_2(tmp_path: Path) -> None:
    config = local_model_missing(tmp_path)
    result = models_list("--output", "json", "--latest", "--config", config)
    assert result.returncode == 2
    document = json.loads(result.stdout)
    assert document["filtered"] is True
    assert all(r["status"] != "ok" for r in document["results"])
    assert "# anthropic: " in result.stderr
    assert "ANTHROPIC_API_KEY" in result.stderr
    assert "OPENAI_API_KEY" in result.stderr


def test_parsing_arguments_imports_no_provider_sdk() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "amplifier_agent", "models", "list", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "--latest" in result.stdout
    imported = {
        line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if "|" in line
    }
    assert "amplifier_agent.cli.models" in imported
    assert imported.isdisjoint({"anthropic", "openai", "llama_cpp"})


# -- pure parts ---------------------------------------------------------------------------


def info(model_id: str, created: int = 0, **fields: Any) -> ModelInfo:
    return ModelInfo(id=model_id, display_name=model_id, created=created, **fields)


@pytest.mark.parametrize(
    ("model_id", "family"),
    [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
        ("gpt-5", "gpt-5"),
        ("model-1234567", "model-1234567"),
        ("latest", "latest"),
    ],
)
def test_family_of(model_id: str, family: str) -> None:
    assert family_of(model_id) == family


def test_latest_per_family_ties_keep_the_first_listed() -> None:
    listed = [info("a-20240101", 5), info("a-latest", 5), info("b", 1)]
    assert [m.id for m in latest_per_family(listed)] == ["a-20240101", "b"]


def test_models_table_marks_unknowns() -> None:
    table = render_models_table([info("mystery", 0)])
    assert table.splitlines()[1].split() == ["mystery", "mystery", "—", "—"]


def test_aggregate_table_cells() -> None:
    outcomes = [
        Outcome("a", "ok", (info("m1"), info("m2"))),
        Outcome("b", "ok", ()),
        Outcome("c", "error", (), "upstream_timeout: too slow"),
    ]
    lines = render_aggregate_table(outcomes).splitlines()
    assert re.split(r" {2,}", lines[1]) == ["a", "ok", "m1, m2"]
    assert re.split(r" {2,}", lines[2]) == ["b", "ok", "— (no live model list available)"]
    assert re.split(r" {2,}", lines[3]) == ["c", "error", "— (upstream_timeout: too slow)"]
