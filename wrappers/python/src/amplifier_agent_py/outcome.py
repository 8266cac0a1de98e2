"""Reading what the engine printed: NDJSON notifications on stderr and the envelope on stdout,
and the rules that turn a finished process into one `result` or `error` event."""

from __future__ import annotations

import json
from typing import Any

from amplifier_agent_py.constants import ENVELOPE_HEAD_BYTES, PROTOCOL_VERSION_REQUIRED_BY_WRAPPER
from amplifier_agent_py.errors import AgentError
from amplifier_agent_py.process import Exit

Event = dict[str, Any]


def parse_notification(line: str) -> Event | None:
    """A `notification` event for a JSON-RPC notification line; anything else is noise."""
    try:
        document = json.loads(line)
    except ValueError:
        return None
    if not isinstance(document, dict) or not isinstance(document.get("method"), str):
        return None
    params = document.get("params")
    return {
        "type": "notification",
        "method": document["method"],
        "params": params if isinstance(params, dict) else {},
    }


def _is_envelope(document: object) -> bool:
    if not isinstance(document, dict) or not isinstance(document.get("reply"), str):
        return False
    if "error" not in document:
        return False
    error = document["error"]
    return error is None or (isinstance(error, dict) and isinstance(error.get("code"), str))


def find_envelope(stdout: bytes) -> dict[str, Any] | None:
    """The last stdout line that is a well-formed envelope, if any."""
    for line in reversed(stdout.decode("utf-8", "replace").split("\n")):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if _is_envelope(document):
            return document  # type: ignore[no-any-return]
    return None


def result_event(envelope: dict[str, Any]) -> Event:
    metadata = envelope.get("metadata")
    session_id = envelope.get("sessionId")
    return {
        "type": "result",
        "text": envelope["reply"],
        "session_id": session_id if isinstance(session_id, str) else "",
        "metadata": metadata if isinstance(metadata, dict) else {},
    }


def envelope_error(envelope: dict[str, Any], stderr_tail: str) -> AgentError:
    error: dict[str, Any] = envelope["error"]
    classification = error.get("classification")
    remediation = error.get("remediation")
    correlation_id = error.get("correlationId")
    return AgentError(
        error["code"],
        classification if isinstance(classification, str) else "engine",
        str(error.get("message", "")),
        remediation=remediation if isinstance(remediation, str) else None,
        stderr_tail=stderr_tail,
        correlation_id=correlation_id if isinstance(correlation_id, str) else None,
    )


def synthesized_final(envelope: dict[str, Any]) -> Event:
    """The `result/final` a consumer would have seen had the engine emitted one."""
    return {
        "type": "notification",
        "method": "result/final",
        "params": {
            "sessionId": envelope.get("sessionId", ""),
            "turnId": envelope.get("turnId", ""),
            "text": envelope["reply"],
        },
        "synthesized": True,
    }


def hung_error(timeout_ms: int | None, stderr_tail: str, correlation_id: str) -> AgentError:
    return AgentError(
        "engine_hung",
        "engine",
        f"turn exceeded the {timeout_ms} ms timeout; the engine was cancelled",
        stderr_tail=stderr_tail,
        correlation_id=correlation_id,
    )


def missing_envelope_error(done: Exit, correlation_id: str) -> AgentError:
    """No envelope: a clean exit is a protocol breach, anything else is the engine's failure."""
    if done.code == 0:
        head = done.stdout[:ENVELOPE_HEAD_BYTES].decode("utf-8", "replace")
        return AgentError(
            "envelope_missing",
            "protocol",
            "engine exited with code 0 without an envelope on stdout; stdout began: "
            + json.dumps(head, ensure_ascii=False),
            stderr_tail=done.stderr_tail,
            correlation_id=correlation_id,
        )
    return AgentError(
        f"engine_exit_{done.code}",
        "engine",
        f"engine exited with code {done.code} without an envelope",
        stderr_tail=done.stderr_tail,
        correlation_id=correlation_id,
    )


# -- the persistent lifecycle: a `turn/submit` response instead of an envelope -----------------
def turn_metadata(
    result: dict[str, Any], duration_ms: int, engine_version: str, correlation_id: str
) -> dict[str, Any]:
    """The envelope's `metadata`, rebuilt from the turn totals in `finalEvent.params.usage`
    (`tokensIn` counts cached input too, as `run` does)."""
    usage = _final_params(result).get("usage")
    usage = usage if isinstance(usage, dict) else {}
    cache_read, cache_write = _count(usage, "cacheReadTokens"), _count(usage, "cacheWriteTokens")
    metadata: dict[str, Any] = {
        "tokensIn": _count(usage, "inputTokens") + cache_read + cache_write,
        "tokensOut": _count(usage, "outputTokens"),
        "cacheReadTokens": cache_read,
        "cacheWriteTokens": cache_write,
    }
    if isinstance(usage.get("cost"), str):
        metadata["costUsd"] = usage["cost"]
    metadata.update(
        durationMs=duration_ms,
        bundleDigest="",
        engineVersion=engine_version,
        protocolVersion=PROTOCOL_VERSION_REQUIRED_BY_WRAPPER,
        correlationId=correlation_id,
    )
    return metadata


def turn_result_event(result: dict[str, Any], metadata: dict[str, Any]) -> Event:
    session_id = result.get("sessionId")
    return {
        "type": "result",
        "text": str(result.get("reply", "")),
        "session_id": session_id if isinstance(session_id, str) else "",
        "metadata": metadata,
    }


def final_notification(result: dict[str, Any]) -> Event:
    """The `result/final` of a turn whose notification was not seen, from `finalEvent`."""
    return {
        "type": "notification",
        "method": "result/final",
        "params": _final_params(result),
        "synthesized": True,
    }


def rpc_error(error: dict[str, Any], stderr_tail: str, correlation_id: str) -> AgentError:
    """A JSON-RPC error as the turn's `error`: the engine's wire code from `data`."""
    data = error.get("data")
    data = data if isinstance(data, dict) else {}
    code, classification = data.get("code"), data.get("classification")
    remediation = data.get("remediation")
    return AgentError(
        code if isinstance(code, str) else "internal",
        classification if isinstance(classification, str) else "engine",
        str(data.get("message") or error.get("message", "")),
        remediation=remediation if isinstance(remediation, str) else None,
        stderr_tail=stderr_tail,
        correlation_id=correlation_id,
    )


def engine_gone_error(status: int, stderr_tail: str, correlation_id: str) -> AgentError:
    return AgentError(
        f"engine_exit_{status}",
        "engine",
        f"the engine process exited with code {status} during the turn; "
        "the next turn starts a new one",
        stderr_tail=stderr_tail,
        correlation_id=correlation_id,
    )


def _final_params(result: dict[str, Any]) -> dict[str, Any]:
    final = result.get("finalEvent")
    params = final.get("params") if isinstance(final, dict) else None
    return params if isinstance(params, dict) else {}


def _count(usage: dict[str, Any], key: str) -> int:
    value = usage.get(key)
    return value if isinstance(value, int) else 0
