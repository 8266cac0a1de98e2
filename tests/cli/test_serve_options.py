"""`serve chat-completions` read deadlines from the environment: defaults, overrides and the
`invalid_timeout` start-up problem."""

from __future__ import annotations

import pytest

from amplifier_agent.cli.serve_options import BODY_TIMEOUT_ENV, HEADER_TIMEOUT_ENV, resolve_options
from amplifier_agent.server.connection import (
    DEFAULT_BODY_TIMEOUT_S,
    DEFAULT_HEADER_TIMEOUT_S,
    ReadTimeouts,
)


def test_defaults_without_the_env_vars() -> None:
    options, problems = resolve_options({}, env={})
    assert problems == []
    assert options.read_timeouts == ReadTimeouts(DEFAULT_HEADER_TIMEOUT_S, DEFAULT_BODY_TIMEOUT_S)


def test_env_vars_set_both_deadlines() -> None:
    env = {HEADER_TIMEOUT_ENV: "2.5", BODY_TIMEOUT_ENV: " 30 "}
    options, problems = resolve_options({}, env=env)
    assert problems == []
    assert options.read_timeouts == ReadTimeouts(header_s=2.5, body_s=30.0)


@pytest.mark.parametrize("raw", ["0", "-1", "soon", "inf", "nan"])
def test_a_bad_value_is_a_named_problem(raw: str) -> None:
    options, problems = resolve_options({}, env={BODY_TIMEOUT_ENV: raw})
    assert [p.code for p in problems] == ["invalid_timeout"]
    assert BODY_TIMEOUT_ENV in problems[0].message and repr(raw) in problems[0].message
    assert options.read_timeouts.body_s == DEFAULT_BODY_TIMEOUT_S
