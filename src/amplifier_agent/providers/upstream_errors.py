"""The adapters' one error mapping (SPEC §8.7): HTTP status → upstream code, `Retry-After`
parsing, transport failures, error events inside a stream, and error text that never carries the
API key."""

from __future__ import annotations

import email.utils
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2

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


#: What reading a response body can fail with that is the network's doing (the SDKs treat the
#: same set as connection errors while they stream).
TRANSPORT_FAILURES = (httpx2.RequestError, ssl.SSLError, anyio.EndOfStream)
_UNREACHABLE = (httpx2.ConnectTimeout, httpx2.PoolTimeout, httpx2.ConnectError)


@dataclass(frozen=True, slots=True)
class Upstream:
    """Who a failure is about: `label` names it in messages; `api_key` never appears in them."""

    label: str
    api_key: str | None
    stall_timeout_s: float | None


def map_failure(exc: BaseException, upstream: Upstream) -> ProviderError:
    """An SDK status error, an SDK or httpx2 transport failure, or a malformed stream, as the
    `ProviderError` the faces map. Works on both SDKs' errors: they share these attributes."""
    label = upstream.label
    status = getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    if isinstance(status, int) and isinstance(response, httpx2.Response):
        text = redact(_status_text(exc), upstream.api_key)
        return status_error(label, status, text, response.headers)
    chain = causes(exc)
    if any(isinstance(e, _UNREACHABLE) for e in chain):
        return ProviderError("upstream_unavailable", f"{label} unreachable: {describe(chain[-1])}")
    if any(isinstance(e, httpx2.TimeoutException) for e in chain):
        stall = upstream.stall_timeout_s
        return ProviderError("upstream_timeout", f"{label} sent nothing for {stall} s")
    if isinstance(exc, ValueError):  # a JSON decode error: the body was not the wire format
        text = redact(str(exc), upstream.api_key)
        return ProviderError("upstream_error", f"{label} sent a malformed stream: {text}")
    text = redact(describe(chain[-1]), upstream.api_key)
    return ProviderError("upstream_error", f"{label} connection lost: {text}")


def _status_text(exc: BaseException) -> str:
    """The provider's own message from the error body, whichever way the SDK nested it."""
    body = getattr(exc, "body", None)
    error = body.get("error", body) if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if isinstance(message, str) and message:
        return message
    return str(body) if body else str(getattr(exc, "message", exc))


def stream_error_event(error: Any, upstream: Upstream) -> ProviderError:
    """An error the upstream reported inside a stream it had already started."""
    error_type = error.get("type") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(message, str) or not message:
        message = str(error)
    text = redact(message, upstream.api_key)
    detail = f"{upstream.label} stream error ({error_type or 'unknown'}): {text}"
    if error_type in ("authentication_error", "permission_error"):
        return ProviderError("upstream_auth_error", detail)
    if error_type == "rate_limit_error":
        return ProviderError("rate_limited", detail)
    return ProviderError("upstream_error", detail)


def malformed(upstream: Upstream, what: str) -> ProviderError:
    return ProviderError("upstream_error", f"{upstream.label} sent a malformed stream: {what}")
