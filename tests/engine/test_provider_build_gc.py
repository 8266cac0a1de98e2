"""Building a provider imports its SDK with the cyclic garbage collector paused (the SDK's
long-lived classes and schemas would otherwise be walked by collection after collection), and
leaves the collector as it found it. Counted through `gc.callbacks` in a fresh interpreter, where
the SDK is not imported yet."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import gc, json, sys
from amplifier_agent.engine import build_provider, resolve_provider_settings

initially_enabled = {enabled}
if not initially_enabled:
    gc.disable()
env = {{"ANTHROPIC_API_KEY": "sk-ant-test", "OPENAI_API_KEY": "sk-test"}}
resolve_provider_settings("{module}", "{module}", env=env)  # what precedes the SDK, done first
gc.collect()
collections = []
gc.callbacks.append(lambda phase, info: phase == "start" and collections.append(info))
build_provider("{module}", "{module}", env=env)
print(json.dumps({{"collections": len(collections), "enabled": gc.isenabled(),
                  "sdk_imported": "{sdk}" in sys.modules}}))
"""


def build_in_fresh_process(module: str, sdk: str, *, enabled: bool) -> dict[str, object]:
    probe = PROBE.format(module=module, sdk=sdk, enabled=enabled)
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return dict(json.loads(result.stdout))


@pytest.mark.parametrize(("module", "sdk"), [("anthropic", "anthropic"), ("openai", "openai")])
def test_the_sdk_import_runs_no_collection(module: str, sdk: str) -> None:
    outcome = build_in_fresh_process(module, sdk, enabled=True)

    assert outcome["sdk_imported"] is True
    assert outcome["enabled"] is True
    # The import itself runs none (unpaused, it runs over a hundred); the first allocation after
    # the collector is back may start one catch-up pass.
    assert outcome["collections"] in (0, 1), outcome


def test_a_collector_switched_off_by_the_host_stays_off() -> None:
    outcome = build_in_fresh_process("openai", "openai", enabled=False)

    assert outcome["enabled"] is False
