"""`config show [--config PATH]`: the effective configuration with sources, masked (SPEC §7.5)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from amplifier_agent.cli.app import cli
from amplifier_agent.config.paths import workspace_slug
from amplifier_agent.config.provider_select import local_installed

SECRET = "sk-config-secret-value-7788"


def show(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["config", "show", *args], env=env)


def report_of(result: Result) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def write_config(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "host_config.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "project"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def test_defaults_without_a_config(isolated_home: Path, in_tmp: Path) -> None:
    result = show()
    assert result.exit_code == 0, result.output
    report = report_of(result)
    assert list(report) == [
        "amplifier_agent_home",
        "host_config",
        "provider",
        "routing",
        "workspace",
        "mcp",
        "skills",
        "store",
    ]
    assert report["store"] == {"backend": "files", "url": None, "source": "default"}
    assert report["amplifier_agent_home"] == {
        "value": str(isolated_home),
        "source": "env:AMPLIFIER_AGENT_HOME",
    }
    assert report["host_config"] == {"path": None, "source": "none", "values": {}, "error": None}
    fallback = "local" if local_installed() else "anthropic"
    expected_credential = "default" if fallback == "local" else "none"
    assert report["provider"] == {
        "module": fallback,
        "source": "default",
        "credential_source": expected_credential,
    }
    matrix = "balanced" if fallback == "local" else "anthropic"
    assert report["routing"] == {"matrix": matrix, "source": "provider_family"}
    assert report["workspace"] == {"value": workspace_slug(in_tmp), "source": "cwd"}
    assert report["mcp"] == {"configPath": None, "source": "none"}
    assert [(s["name"], s["source"], s["shadowed"]) for s in report["skills"]] == [
        ("commit-message", "package", [])
    ]


def test_values_from_a_config_file_are_masked(tmp_path: Path, in_tmp: Path) -> None:
    path = write_config(
        tmp_path,
        {
            "provider": {
                "module": "openai",
                "config": {"api_key": SECRET, "default_model": "gpt-5", "max_tokens": 512},
            },
            "routing": {"matrix": "quality"},
            "mcp": {"configPath": "/srv/mcp.json"},
        },
    )
    result = show("--config", str(path), env={"OPENAI_API_KEY": "sk-env-openai-key-1234"})
    assert result.exit_code == 0, result.output
    report = report_of(result)
    assert report["host_config"]["path"] == str(path)
    assert report["host_config"]["source"] == "--config"
    config = report["host_config"]["values"]["provider"]["config"]
    assert config == {"api_key": "...7788", "default_model": "gpt-5", "max_tokens": 512}
    assert report["provider"] == {
        "module": "openai",
        "source": "host_config",
        "credential_source": "env:OPENAI_API_KEY",
    }
    assert report["routing"] == {"matrix": "quality", "source": "host_config"}
    assert report["mcp"] == {"configPath": "/srv/mcp.json", "source": "host_config"}
    assert SECRET not in result.output
    assert "sk-env-openai-key-1234" not in result.output


def test_env_sources(tmp_path: Path, in_tmp: Path) -> None:
    path = write_config(tmp_path, {})
    env = {
        "AMPLIFIER_AGENT_CONFIG": str(path),
        "AMPLIFIER_AGENT_WORKSPACE": "team-ws",
        "AMPLIFIER_MCP_CONFIG": "/etc/mcp.json",
        "OPENAI_API_KEY": "sk-openai-0000000000",
    }
    report = report_of(show(env=env))
    assert report["host_config"]["source"] == "env:AMPLIFIER_AGENT_CONFIG"
    assert report["workspace"] == {"value": "team-ws", "source": "env:AMPLIFIER_AGENT_WORKSPACE"}
    assert report["mcp"] == {"configPath": "/etc/mcp.json", "source": "env:AMPLIFIER_MCP_CONFIG"}
    assert report["provider"] == {
        "module": "openai",
        "source": "env:OPENAI_API_KEY",
        "credential_source": "env:OPENAI_API_KEY",
    }
    assert report["routing"] == {"matrix": "openai", "source": "provider_family"}


@pytest.mark.parametrize(
    ("content", "code"),
    [
        ("{broken", "config_malformed_json"),
        ('{"providers": {"openai": {"confg": {}}}}', "config_unknown_key"),
        ('{"allowProtocolSkew": "yes"}', "config_invalid_type"),
        ('{"provider": {"module": "auto"}}', "config_invalid_provider_module"),
        ('{"providers": {"work": {}}}', "config_no_matching_module"),
    ],
)
def test_a_bad_config_is_reported_with_exit_2(
    tmp_path: Path, in_tmp: Path, content: str, code: str
) -> None:
    path = write_config(tmp_path, content)
    result = show("--config", str(path))
    assert result.exit_code == 2
    section = report_of(result)["host_config"]
    assert section["values"] is None
    assert section["error"]["code"] == code
    assert str(path) in section["error"]["message"]


def test_a_missing_config_is_unreadable(tmp_path: Path, in_tmp: Path) -> None:
    result = show("--config", str(tmp_path / "absent.json"))
    assert result.exit_code == 2
    assert report_of(result)["host_config"]["error"]["code"] == "config_unreadable"


def test_an_invalid_workspace_env_is_reported(in_tmp: Path) -> None:
    result = show(env={"AMPLIFIER_AGENT_WORKSPACE": "Bad_Name"})
    assert result.exit_code == 2
    workspace = report_of(result)["workspace"]
    assert workspace["value"] is None
    assert workspace["error"]["code"] == "argv_workspace_invalid"


def test_config_show_as_a_subprocess(tmp_path: Path) -> None:
    home = tmp_path / "proc-home"
    path = write_config(tmp_path, {"provider": {"module": "anthropic"}})
    env = dict(os.environ, AMPLIFIER_AGENT_HOME=str(home), HOME=str(tmp_path / "user-home"))
    proc = subprocess.run(
        [sys.executable, "-m", "amplifier_agent", "config", "show", "--config", str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["amplifier_agent_home"]["value"] == str(home)
    assert report["provider"] == {
        "module": "anthropic",
        "source": "host_config",
        "credential_source": "none",
    }
    assert report["workspace"]["value"] == workspace_slug(tmp_path)


def test_a_corrupt_credentials_file_is_reported(isolated_home: Path, in_tmp: Path) -> None:
    isolated_home.mkdir(mode=0o700)
    creds = isolated_home / "credentials.json"
    creds.write_text("{broken")
    os.chmod(creds, 0o600)
    result = show()
    assert result.exit_code == 2
    provider = report_of(result)["provider"]
    assert provider["error"]["code"] == "credentials_corrupt"
    assert str(creds) in provider["error"]["message"]
    assert creds.read_text() == "{broken"


def test_skills_list_their_source_and_what_they_shadow(tmp_path: Path, in_tmp: Path) -> None:
    project = in_tmp / ".amplifier" / "skills" / "commit-message"
    project.mkdir(parents=True)
    (project / "SKILL.md").write_text(
        "---\nname: commit-message\ndescription: the project's own rules\n---\nUse ours.\n"
    )
    result = show()
    assert result.exit_code == 0, result.output
    (skill,) = report_of(result)["skills"]
    assert skill["source"] == "package"  # packaged skills are found first
    assert skill["shadowed"] == [{"source": "project", "path": str(project)}]


DB_PASSWORD = "db-pass-4711"


def test_the_store_url_is_shown_with_its_password_masked(tmp_path: Path, in_tmp: Path) -> None:
    url = f"postgresql://agent:{DB_PASSWORD}@db.internal:5432/agent"
    config = write_config(tmp_path, {"store": {"url": url}})
    result = show("--config", str(config))
    assert result.exit_code == 0, result.output
    masked = "postgresql://agent:***@db.internal:5432/agent"
    report = report_of(result)
    assert report["store"] == {"backend": "postgresql", "url": masked, "source": "host_config"}
    assert report["host_config"]["values"]["store"] == {"url": masked}
    assert DB_PASSWORD not in result.output

    from_env = show("--config", str(config), env={"AMPLIFIER_AGENT_STORE_URL": url + "2"})
    assert report_of(from_env)["store"] == {
        "backend": "postgresql",
        "url": masked + "2",
        "source": "env:AMPLIFIER_AGENT_STORE_URL",
    }
    assert DB_PASSWORD not in from_env.output


def test_a_store_section_is_closed(tmp_path: Path, in_tmp: Path) -> None:
    result = show("--config", str(write_config(tmp_path, {"store": {"uri": "x"}})))
    assert result.exit_code == 2
    assert report_of(result)["host_config"]["error"]["code"] == "config_unknown_key"
