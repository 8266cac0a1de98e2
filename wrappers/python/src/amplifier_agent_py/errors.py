"""`AgentError`, the one exception type, and the rule deciding which errors are retryable."""

from __future__ import annotations

import errno
import uuid
from typing import Any, Literal

Classification = Literal["transport", "protocol", "engine", "approval"]

_RETRYABLE_CODES = frozenset({"engine_hung", "runtime"})


def is_retryable(code: str, classification: str) -> bool:
    """Transport failures and hung or runtime turns may succeed when tried again."""
    return classification == "transport" or code in _RETRYABLE_CODES


def new_correlation_id() -> str:
    return str(uuid.uuid4())


def errno_name(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, str(exc.errno))


def start_failed(binary: str, exc: OSError) -> AgentError:
    """The engine binary could not be started (ENOENT, EACCES, ...)."""
    return AgentError("spawn_failed", "transport", f"could not start {binary}: {errno_name(exc)}")


class AgentError(Exception):
    """A failure reported by the wrapper or carried over from an engine envelope."""

    def __init__(
        self,
        code: str,
        classification: str,
        message: str,
        *,
        remediation: str | None = None,
        stderr_tail: str | None = None,
        exit_code: int | None = None,
        correlation_id: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.classification = classification
        self.severity = "error"
        self.message = message
        self.remediation = remediation
        self.stderr_tail = stderr_tail
        self.exit_code = exit_code
        self.correlation_id = correlation_id or new_correlation_id()
        self.retryable = is_retryable(code, classification)

    def to_event(self) -> dict[str, Any]:
        """The `error` event for this failure (optional fields only when known)."""
        event: dict[str, Any] = {
            "type": "error",
            "code": self.code,
            "classification": self.classification,
            "severity": self.severity,
            "correlation_id": self.correlation_id,
            "message": self.message,
            "retryable": self.retryable,
        }
        if self.stderr_tail is not None:
            event["stderr_tail"] = self.stderr_tail
        if self.remediation is not None:
            event["remediation"] = self.remediation
        return event
