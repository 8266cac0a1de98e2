"""`todo`: the agent's task list for the current loop, replaced wholesale on every call."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from amplifier_agent.tools.base import TodoItem, TodoStatus, ToolContext
from amplifier_agent.tools.schema import tool

_MARKS: dict[TodoStatus, str] = {"pending": "[ ]", "in_progress": "[~]", "completed": "[x]"}


class TodoEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    content: Annotated[str, Field(min_length=1, description="What needs doing.")]
    status: TodoStatus


@tool()
async def todo(ctx: ToolContext, todos: list[TodoEntry]) -> str:
    """Replace your task list with `todos` and show it; use it to plan and track multi-step work.

    Args:
        todos: The complete list, in order; each entry is `{content, status}` with status
            pending, in_progress or completed.
    """
    ctx.todos.replace(tuple(TodoItem(entry.content, entry.status) for entry in todos))
    return render_todos(ctx.todos.items)


def render_todos(items: tuple[TodoItem, ...]) -> str:
    if not items:
        return "Todo list is empty."
    done = sum(item.status == "completed" for item in items)
    lines = [f"Todo list ({done}/{len(items)} completed):"]
    lines.extend(f"{_MARKS[item.status]} {item.content}" for item in items)
    return "\n".join(lines)
