"""todo replaces the context's list; builtin_tools() exposes the §6.2 set in a stable order."""

from __future__ import annotations

import pytest

from amplifier_agent.tools import TodoItem, ToolContext, ToolError, builtin_tools
from amplifier_agent.tools.todo import todo


async def test_todo_replaces_the_list_and_renders_it(ctx: ToolContext) -> None:
    first = [
        {"content": "write tests", "status": "completed"},
        {"content": "ship", "status": "pending"},
    ]
    await todo.run(ctx, {"todos": first})
    result = await todo.run(
        ctx,
        {
            "todos": [
                {"content": "ship", "status": "in_progress"},
                {"content": "rest", "status": "pending"},
            ]
        },
    )
    assert ctx.todos.items == (TodoItem("ship", "in_progress"), TodoItem("rest", "pending"))
    assert result.content == "Todo list (0/2 completed):\n[~] ship\n[ ] rest"


async def test_todo_empty_list(ctx: ToolContext) -> None:
    ctx.todos.replace((TodoItem("old", "pending"),))
    assert (await todo.run(ctx, {"todos": []})).content == "Todo list is empty."
    assert ctx.todos.items == ()


@pytest.mark.parametrize(
    "entry",
    [{"content": "x", "status": "done"}, {"content": "", "status": "pending"}, {"content": "x"}],
)
async def test_todo_rejects_bad_entries(ctx: ToolContext, entry: dict[str, str]) -> None:
    with pytest.raises(ToolError) as raised:
        await todo.run(ctx, {"todos": [entry]})
    assert raised.value.code == "invalid_tool_arguments"
    assert ctx.todos.items == ()


def test_builtin_tools_in_stable_order_with_approval_kinds() -> None:
    tools = builtin_tools()
    assert [(t.name, t.approval_kind) for t in tools] == [
        ("read_file", None),
        ("write_file", "write"),
        ("edit_file", "write"),
        ("glob", None),
        ("grep", None),
        ("bash", "bash"),
        ("web_fetch", "network"),
        ("todo", None),
    ]
    for t in tools:
        assert t.description and t.parameters["type"] == "object"
        assert t.parameters["additionalProperties"] is False


def test_a_tool_spec_is_built_once_and_says_what_the_tool_says() -> None:
    for tool in builtin_tools():
        spec = tool.spec()
        assert tool.spec() is spec  # every model call reads it; none rebuilds it
        assert (spec.name, spec.description) == (tool.name, tool.description)
        assert spec.parameters == tool.parameters
