"""The tool vocabulary: `Tool`, its per-turn `ToolContext`, `ToolResult` and `ToolError`.

A tool validates model-supplied arguments itself; approval is the loop's job, which asks
`Tool.subject()` what the call is about.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from amplifier_agent.core.errors import AmplifierError
from amplifier_agent.core.messages import ToolSpec

ApprovalKind = Literal["write", "bash", "network", "mcp"]
TodoStatus = Literal["pending", "in_progress", "completed"]


class ToolError(AmplifierError):
    """A tool call failed in a way the model can act on; `code` says how.

    Codes used by the built-ins: `invalid_tool_arguments`, `path_outside_workspace`, `not_found`,
    `not_a_file`, `binary_file`, `no_match`, `multiple_matches`, `tool_timeout`, `fetch_refused`,
    `fetch_failed`, `mcp_server_unavailable`, `mcp_call_failed`, `io_error`.
    """

    code = "tool_execution_failed"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool call returns to the model."""

    content: str
    is_error: bool = False


def error_result(exc: AmplifierError) -> ToolResult:
    """The error result the model sees for a failed call: `Error: <code>: <message>`."""
    return ToolResult(f"Error: {exc.code}: {exc.message}", is_error=True)


class ProcessRegistry:
    """Process groups started by tools during a turn, so a cancelled turn can kill them all."""

    def __init__(self) -> None:
        self._groups: set[int] = set()

    def add(self, pgid: int) -> None:
        self._groups.add(pgid)

    def discard(self, pgid: int) -> None:
        self._groups.discard(pgid)

    def __contains__(self, pgid: object) -> bool:
        return pgid in self._groups

    def kill_all(self) -> None:
        """SIGKILL every registered group; groups already gone are ignored."""
        for pgid in tuple(self._groups):
            kill_group(pgid)
        self._groups.clear()


def kill_group(pgid: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


@dataclass(frozen=True, slots=True)
class TodoItem:
    content: str
    status: TodoStatus


class TodoList:
    """The agent's task list for one loop; the `todo` tool replaces it wholesale."""

    def __init__(self) -> None:
        self.items: tuple[TodoItem, ...] = ()

    def replace(self, items: tuple[TodoItem, ...]) -> None:
        self.items = items


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What a tool may touch: the working directory and the turn's process and todo holders."""

    cwd: Path
    processes: ProcessRegistry = field(default_factory=ProcessRegistry)
    todos: TodoList = field(default_factory=TodoList)


Invoke = Callable[[ToolContext, dict[str, Any]], Awaitable[ToolResult]]
SubjectOf = Callable[[ToolContext, dict[str, Any]], str]


@dataclass(frozen=True, slots=True)
class Tool:
    """A callable offered to the model.

    `invoke` validates the arguments and runs the tool; `subject_of` names what an approval is
    about (bash: the command; write/edit: the cwd-relative path; web_fetch: the URL; MCP: the
    tool name) and is set exactly when `approval_kind` is.
    """

    name: str
    description: str
    parameters: Mapping[str, Any]
    invoke: Invoke
    approval_kind: ApprovalKind | None = None
    subject_of: SubjectOf | None = None
    _spec: ToolSpec = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Built once: every model call of every turn reads it, and nothing changes it.
        spec = ToolSpec(
            name=self.name, description=self.description, parameters=dict(self.parameters)
        )
        object.__setattr__(self, "_spec", spec)

    def spec(self) -> ToolSpec:
        return self._spec

    def subject(self, ctx: ToolContext, arguments: Mapping[str, Any]) -> str | None:
        """The approval subject, or None for tools that need no approval.

        Raises ToolError(`invalid_tool_arguments`) when the arguments do not validate, so a
        malformed call is rejected before anyone is asked to approve it.
        """
        if self.subject_of is None:
            return None
        return self.subject_of(ctx, _as_arguments(self.name, arguments))

    async def run(self, ctx: ToolContext, arguments: Mapping[str, Any]) -> ToolResult:
        """Run the tool. Raises ToolError; the loop turns it into `error_result(exc)`."""
        return await self.invoke(ctx, _as_arguments(self.name, arguments))


def _as_arguments(name: str, arguments: object) -> dict[str, Any]:
    if not isinstance(arguments, Mapping):
        raise ToolError(
            "invalid_tool_arguments",
            f"{name}: arguments must be a JSON object, got {type(arguments).__name__}",
        )
    return dict(arguments)
