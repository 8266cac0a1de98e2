"""The interface each fake wire format implements (see anthropic_wire.py, openai_wire.py)."""

from __future__ import annotations

from typing import Any, Protocol

from testkit.script import Reply


class WireFormat(Protocol):
    def stream_events(self, reply: Reply, model: str) -> list[bytes]:
        """The complete SSE stream for `reply`, one element per event (the fault unit)."""
        ...

    def json_body(self, reply: Reply, model: str) -> dict[str, Any]:
        """The non-streamed response body."""
        ...

    def error_body(self, status: int, message: str, error_type: str | None) -> dict[str, Any]:
        """The provider's error body for an HTTP error status."""
        ...

    def models_body(self, models: list[dict[str, Any]]) -> dict[str, Any]:
        """The model-listing body; each model has `id`, `created` and optional `display_name`."""
        ...
