"""How a failed turn maps to an HTTP status and headers (SPEC §8.7): a 429 always says when to
retry."""

from __future__ import annotations

import pytest

from amplifier_agent.core.errors import ProviderError, storage_error
from amplifier_agent.server.turn_runner import DEFAULT_RETRY_AFTER_S, failure_for


@pytest.mark.parametrize(
    ("upstream_seconds", "header"),
    [(None, str(DEFAULT_RETRY_AFTER_S)), (7.0, "7"), (0.02, "1"), (0.0, "1"), (2.5, "3")],
)
def test_rate_limited_always_carries_retry_after(
    upstream_seconds: float | None, header: str
) -> None:
    error = ProviderError("rate_limited", "slow down", status=429, retry_after=upstream_seconds)
    failure = failure_for(error)
    assert (failure.status, failure.code) == (429, "rate_limited")
    assert failure.headers == {"retry-after": header}
    assert failure.as_http_error().headers == {"retry-after": header}


@pytest.mark.parametrize("upstream", ["upstream_error", "upstream_timeout", "upstream_auth_error"])
def test_other_upstream_failures_carry_no_retry_after(upstream: str) -> None:
    failure = failure_for(ProviderError(upstream, "x", retry_after=3.0))  # type: ignore[arg-type]
    assert failure.headers is None


def test_a_storage_failure_does_not_show_the_servers_paths() -> None:
    error = storage_error(
        "write", "/srv/state/sessions/http-x/transcript.jsonl", OSError(28, "full")
    )
    failure = failure_for(error)
    assert (failure.status, failure.code) == (500, "internal")
    assert failure.message.startswith("storage_error: ")
    assert "/srv/state" not in failure.message
