"""The one mapping from a face's policy and host_config `approval.mode` to the approval the loop
applies (SPEC §6.3, §7.2, §8.4, §10.3): what `prompt` and an unset mode mean on each face."""

from __future__ import annotations

import pytest

from amplifier_agent.config.host_config import parse_host_config
from amplifier_agent.engine import DISPATCH_POLICY, HTTP_POLICY, TurnPolicy


async def ask(question: str) -> str:
    return "y"


CLI_PROMPT = TurnPolicy("cli", approval="prompt", asker=ask)


@pytest.mark.parametrize(
    ("policy", "configured", "expected"),
    [
        (HTTP_POLICY, None, "yes"),
        (HTTP_POLICY, "prompt", "yes"),
        (HTTP_POLICY, "no", "no"),
        (HTTP_POLICY, "yes", "yes"),
        (DISPATCH_POLICY, None, "no"),
        (DISPATCH_POLICY, "prompt", "no"),
        (DISPATCH_POLICY, "yes", "yes"),
        (CLI_PROMPT, "no", "prompt"),  # the command line's decision wins over the config
        (TurnPolicy("cli", approval="yes"), "no", "yes"),
        (TurnPolicy("cli", approval="prompt"), None, "no"),  # nobody to ask
    ],
)
def test_each_face_maps_the_approval_mode_once(
    policy: TurnPolicy, configured: str | None, expected: str
) -> None:
    approval = {"patterns": ["bash(ls*)"], **({"mode": configured} if configured else {})}
    config = parse_host_config({"approval": approval})

    built = policy.approval_policy(config)

    assert built.mode == expected
    assert [p.tool for p in built.patterns] == ["bash"]
    assert built.log_approvals is (policy is HTTP_POLICY)
    assert built.asker is policy.asker
