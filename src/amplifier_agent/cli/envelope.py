"""The JSON envelope `run` prints on stdout (SPEC §7.3): success, error and pre-boot shapes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from amplifier_agent import PROTOCOL_VERSION, __version__
from amplifier_agent.core.errors import classify
from amplifier_agent.core.usage import Usage, format_decimal


@dataclass(frozen=True, slots=True)
class EnvelopeError:
    code: str
    message: str
    remediation: str | None = None


def metadata(usage: Usage | None, duration_ms: int, correlation_id: str) -> dict[str, Any]:
    spent = usage or Usage()
    fields: dict[str, Any] = {
        "tokensIn": spent.prompt_tokens,
        "tokensOut": spent.output_tokens,
        "cacheReadTokens": spent.cache_read_tokens,
        "cacheWriteTokens": spent.cache_write_tokens,
    }
    if usage is not None and usage.cost_usd is not None:
        fields["costUsd"] = format_decimal(usage.cost_usd)
    fields.update(
        durationMs=duration_ms,
        bundleDigest="",
        engineVersion=__version__,
        protocolVersion=PROTOCOL_VERSION,
        correlationId=correlation_id,
    )
    return fields


def envelope(
    *,
    session_id: str,
    turn_id: str,
    reply: str,
    usage: Usage | None,
    duration_ms: int,
    correlation_id: str,
    error: EnvelopeError | None = None,
) -> dict[str, Any]:
    """A failure carries no reply, except `storage_error`: the model answered (and was paid)
    before the session could not be stored, so its answer is still delivered."""
    return {
        "protocolVersion": PROTOCOL_VERSION,
        "sessionId": session_id,
        "turnId": turn_id,
        "reply": reply if error is None or error.code == "storage_error" else "",
        "error": None if error is None else _error_fields(error, correlation_id),
        "metadata": metadata(usage, duration_ms, correlation_id),
    }


def _error_fields(error: EnvelopeError, correlation_id: str) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "code": error.code,
        "classification": classify(error.code),
        "severity": "error",
        "correlationId": correlation_id,
        "message": error.message,
    }
    if error.remediation:
        fields["remediation"] = error.remediation
    return fields


def preboot_envelope(error: EnvelopeError, correlation_id: str) -> dict[str, Any]:
    """Failures before the engine boots: no session, no turn, zero counts, no cost."""
    return envelope(
        session_id="",
        turn_id="",
        reply="",
        usage=None,
        duration_ms=0,
        correlation_id=correlation_id,
        error=error,
    )
