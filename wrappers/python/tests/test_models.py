"""`list_models`: `models list --output json [--provider p]`, parsed; aggregate mode also on
exit 2; any other non-zero exit is `models_list_failed`."""

from __future__ import annotations

import pytest

from amplifier_agent_py import AgentError, list_models
from helpers import FakeEngine

SINGLE = {"schema_version": 1, "provider": "openai", "filtered": False, "models": [{"id": "m1"}]}
AGGREGATE = {
    "schema_version": 1,
    "filtered": False,
    "results": [{"provider": "openai", "status": "credentials_missing", "models": []}],
}


async def test_single_provider(fake: FakeEngine) -> None:
    fake.configure(models_stdout=SINGLE)
    assert await list_models("openai") == SINGLE
    assert fake.records()[-1]["argv"] == [
        "models",
        "list",
        "--output",
        "json",
        "--provider",
        "openai",
    ]


async def test_aggregate_is_returned_on_exit_2(fake: FakeEngine) -> None:
    fake.configure(models_stdout=AGGREGATE, models_exit_code=2)
    assert await list_models() == AGGREGATE
    assert fake.records()[-1]["argv"] == ["models", "list", "--output", "json"]


async def test_single_provider_failure(fake: FakeEngine) -> None:
    fake.configure(
        models_stdout="",
        models_exit_code=2,
        models_stderr_lines=["# openai: OPENAI_API_KEY is not set"],
    )
    with pytest.raises(AgentError) as caught:
        await list_models("openai")
    error = caught.value
    assert (error.code, error.exit_code) == ("models_list_failed", 2)
    assert error.stderr_tail == "# openai: OPENAI_API_KEY is not set\n"


async def test_aggregate_failure_on_other_exit_codes(fake: FakeEngine) -> None:
    fake.configure(models_stdout="", models_exit_code=1, models_stderr_lines=["boom"])
    with pytest.raises(AgentError) as caught:
        await list_models()
    assert (caught.value.code, caught.value.exit_code) == ("models_list_failed", 1)


async def test_unparsable_output(fake: FakeEngine) -> None:
    fake.configure(models_stdout="ID  DISPLAY NAME\n")
    with pytest.raises(AgentError) as caught:
        await list_models("openai")
    assert caught.value.code == "models_list_failed"
