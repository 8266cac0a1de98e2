"""Shared pieces of the adapters' error mapping (SPEC §8.7): HTTP status → upstream code,
`Retry-After` parsing, and error text that never carries the API key."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

from amplifier_agent.core.errors import ProviderError

#: A proxy may answer with a whole HTML page; the gist fits in a few hundred characters.
MAX_ERROR_TEXT = 500


def status_error(
    label: str, status: int, text: str, headers: Mapping[str, str] | None = None
) -> ProviderError:
    """401/403 → `upstream_auth_error`; 429 → `rate_limited` (with Retry-After); else
    `upstream_error`. `label` names the provider in the message."""
    message = f"{label} returned HTTP {status}: {text}"
    if status in (401, 403):
        return ProviderError("upstream_auth_error", message, status=status)
    if status == 429:
        retry_after = retry_after_seconds(headers or {})
        return ProviderError("rate_limited", message, status=status, retry_after=retry_after)
    return ProviderError("upstream_error", message, status=status)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds from the standard `retry-after` (seconds or an HTTP date), else from the
    non-standard `retry-after-ms`; None when neither is usable."""
    value = headers.get("retry-after")
    seconds = _number(value)
    if seconds is not None:
        return seconds
    parsed = email.utils.parsedate_tz(value) if value else None
    if parsed is not None:
        return max(email.utils.mktime_tz(parsed) - time.time(), 0.0)
    millis = _number(headers.get("retry-after-ms"))
    return None if millis is None else millis / 1000


def _number(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and 0 <= number < float("inf") else None


def redact(text: str, secret: str | None) -> str:
    """`text` without `secret`, cut to `MAX_ERROR_TEXT` characters."""
    if secret:
        text = text.replace(secret, "[redacted]")
    return text[:MAX_ERROR_TEXT]


def causes(exc: BaseException) -> list[BaseException]:
    """`exc` and what it was raised from (the SDKs wrap transport errors with `from`)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__
    return chain


def describe(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown cause"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
