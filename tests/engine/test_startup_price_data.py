"""A server loads genai-prices' data while it starts, only when a provider prices from it, so the
first priced request does not wait for it (each case in a fresh process: the data, once imported,
stays imported)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import asyncio, json, sys
from amplifier_agent.engine import HostConfig, load_providers
from amplifier_agent.config.host_config import ProviderEntry

entry = ProviderEntry(id=sys.argv[1], module=sys.argv[1], config=json.loads(sys.argv[2]))
loaded, problems = asyncio.run(load_providers(HostConfig(providers=(entry,))))
assert loaded is not None and not problems, problems
print(json.dumps("genai_prices.data" in sys.modules))
"""


def _price_data_loaded(module: str, config: dict[str, object]) -> bool:
    env = {"OPENAI_API_KEY": "test-key", "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, module, json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return bool(json.loads(result.stdout))


def test_a_provider_priced_from_the_data_loads_it_at_start_up() -> None:
    assert _price_data_loaded("openai", {"models": ["gpt-5"]})


@pytest.mark.parametrize(
    ("module", "config"),
    [
        ("ollama", {"models": ["llama3"]}),
        ("openai", {"models": ["gpt-5"], "pricing": {"input": 1, "output": 2}}),
    ],
)
def test_providers_priced_without_the_data_leave_it_unloaded(
    module: str, config: dict[str, object]
) -> None:
    assert not _price_data_loaded(module, config)
