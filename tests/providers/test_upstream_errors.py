"""The adapters' shared error mapping: status codes, Retry-After forms, redaction."""

from __future__ import annotations

import email.utils
import time

import pytest

from amplifier_agent.providers.upstream_errors import (
    MAX_ERROR_TEXT,
    redact,
    retry_after_seconds,
    status_error,
)


@pytest.mark.parametrize(
    ("status", "upstream"),
    [
        (401, "upstream_auth_error"),
        (403, "upstream_auth_error"),
        (429, "rate_limited"),
        (400, "upstream_error"),
        (404, "upstream_error"),
        (500, "upstream_error"),
        (529, "upstream_error"),
    ],
)
def test_status_codes_map_to_upstream_codes(status: int, upstream: str) -> None:
    error = status_error("P", status, "text", {"retry-after": "3"})
    assert (error.upstream, error.status) == (upstream, status)
    assert error.detail == f"P returned HTTP {status}: text"
    assert error.retry_after == (3.0 if status == 429 else None)


def test_retry_after_forms() -> None:
    assert retry_after_seconds({"retry-after": "2.5"}) == 2.5
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"retry-after": "4", "retry-after-ms": "250"}) == 4.0
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (retry_after_seconds({"retry-after": future}) or 0) <= 31
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({"retry-after": "-1"}) is None
    assert retry_after_seconds({"retry-after": "inf"}) is None
    assert retry_after_seconds({}) is None


def test_redaction_removes_the_key_and_bounds_the_text() -> None:
    assert redact("bad key sk-123 given", "sk-123") == "bad key [redacted] given"
    assert len(redact("x" * 5000, None)) == MAX_ERROR_TEXT
