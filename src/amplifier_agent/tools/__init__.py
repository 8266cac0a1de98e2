"""Tools: the Tool type, the `@tool` decorator, built-ins and (in `tools.mcp`) MCP client tools.

`tools.mcp` is not imported here so that using the built-ins costs no MCP SDK import.
"""

from amplifier_agent.tools.base import (
    ApprovalKind,
    ProcessRegistry,
    TodoItem,
    TodoList,
    Tool,
    ToolContext,
    ToolError,
    ToolResult,
    error_result,
)
from amplifier_agent.tools.builtins import builtin_tools
from amplifier_agent.tools.schema import tool

__all__ = [
    "ApprovalKind",
    "ProcessRegistry",
    "TodoItem",
    "TodoList",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolResult",
    "builtin_tools",
    "error_result",
    "tool",
]
