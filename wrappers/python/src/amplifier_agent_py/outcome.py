"""Reading what the engine printed: NDJSON notifications on stderr and the envelope on stdout,
and the rules that turn a finished process into one `result` or `error` event."""

from __future__ import annotations

import json
from typing import Any

from amplifier_agent_py.constants import ENVELOPE_HEAD_BYTES
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
