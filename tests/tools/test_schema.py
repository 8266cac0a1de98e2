"""The @tool decorator: schema derivation from signatures and docstrings, argument validation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from amplifier_agent.core.messages import ToolSpec
from amplifier_agent.tools import Tool, ToolContext, ToolError, ToolResult, error_result, tool
from amplifier_agent.tools.paths import path_subject
from amplifier_agent.tools.schema import parse_docstring


class Point(BaseModel):
    x: int
    y: int = 0


@tool()
async def sample(
    ctx: ToolContext,
    path: str,
    limit: Annotated[int, Field(ge=1)] = 2000,
    mode: Literal["fast", "slow"] = "fast",
    title: str | None = None,
    points: list[Point] | None = None,
) -> str:
    """Do a sample thing.

    It has a second paragraph.

    Args:
        path: Where to look.
        limit: How many lines,
            at most.
        mode: Speed.
        title: A property literally named title.
    """
    return f"{path}|{limit}|{mode}|{title}|{points}"


def test_decorator_builds_a_tool_named_after_the_function() -> None:
    assert isinstance(sample, Tool)
    assert sample.name == "sample"
    assert sample.description == "Do a sample thing.\n\nIt has a second paragraph."
    assert sample.approval_kind is None


def test_schema_required_defaults_and_descriptions() -> None:
    schema = sample.parameters
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["path"]
    props = schema["properties"]
    assert list(props) == ["path", "limit", "mode", "title", "points"]
    assert props["path"] == {"type": "string", "description": "Where to look."}
    assert props["limit"] == {
        "type": "integer",
        "minimum": 1,
        "default": 2000,
        "description": "How many lines, at most.",
    }
    assert props["mode"]["enum"] == ["fast", "slow"]
    assert props["mode"]["default"] == "fast"
    assert "description" not in props["points"]


def test_schema_has_no_title_noise_and_no_refs() -> None:
    text = repr(sample.parameters)
    assert "'title': {" in text  # the property called title survives
    assert "'title': '" not in text  # pydantic's title annotations do not
    assert "$ref" not in text and "$defs" not in text
    point = sample.parameters["properties"]["points"]["anyOf"][0]["items"]
    assert point["properties"]["x"] == {"type": "integer"}
    assert point["required"] == ["x"]


def test_spec_is_a_core_tool_spec() -> None:
    spec = sample.spec()
    assert isinstance(spec, ToolSpec)
    assert spec.name == "sample"
    assert spec.parameters == dict(sample.parameters)


async def test_valid_arguments_are_converted_and_defaults_applied(ctx: ToolContext) -> None:
    result = await sample.run(ctx, {"path": "a.txt", "points": [{"x": 1}]})
    assert result == ToolResult("a.txt|2000|fast|None|[Point(x=1, y=0)]")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({}, "path: Field required"),
        ({"path": "a", "limit": 0}, "limit: Input should be greater than or equal to 1"),
        ({"path": "a", "limit": "many"}, "limit: Input should be a valid integer"),
        ({"path": "a", "bogus": 1}, "bogus: Extra inputs are not permitted"),
        ({"path": "a", "mode": "warp"}, "mode: Input should be 'fast' or 'slow'"),
        ({"path": "a", "points": [{"y": 2}]}, "points.0.x: Field required"),
    ],
)
async def test_invalid_arguments_raise_an_actionable_error(
    ctx: ToolContext, arguments: dict[str, object], expected: str
) -> None:
    with pytest.raises(ToolError) as raised:
        await sample.run(ctx, arguments)
    assert raised.value.code == "invalid_tool_arguments"
    assert raised.value.message.startswith("sample: ")
    assert expected in raised.value.message


async def test_non_object_arguments_are_rejected(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="must be a JSON object") as raised:
        await sample.run(ctx, ["a"])  # type: ignore[arg-type]
    assert raised.value.code == "invalid_tool_arguments"


def test_error_result_renders_code_and_message() -> None:
    result = error_result(ToolError("not_found", "no such file"))
    assert result == ToolResult("Error: not_found: no such file", is_error=True)


@tool(name="runner", approval="bash", subject="command")
async def run_it(ctx: ToolContext, command: str) -> ToolResult:
    """Run."""
    return ToolResult(command, is_error=True)


@tool(approval="write", subject=path_subject)
async def writer(ctx: ToolContext, path: str) -> str:
    """Write."""
    return path


def test_subject_by_parameter_name_and_by_function(ctx: ToolContext) -> None:
    assert run_it.name == "runner"
    assert run_it.approval_kind == "bash"
    assert run_it.subject(ctx, {"command": "ls -la"}) == "ls -la"
    assert writer.subject(ctx, {"path": "./src/../src/a.py"}) == "src/a.py"
    assert writer.subject(ctx, {"path": "../x"}) == "../x"
    assert sample.subject(ctx, {"path": "a"}) is None


def test_subject_validates_arguments(ctx: ToolContext) -> None:
    with pytest.raises(ToolError) as raised:
        run_it.subject(ctx, {"cmd": "ls"})
    assert raised.value.code == "invalid_tool_arguments"


async def test_a_tool_result_is_passed_through(ctx: ToolContext) -> None:
    assert await run_it.run(ctx, {"command": "x"}) == ToolResult("x", is_error=True)


async def test_os_errors_become_tool_errors(ctx: ToolContext, tmp_path: Path) -> None:
    @tool()
    async def opener(ctx: ToolContext, name: str) -> str:
        """Open."""
        return (tmp_path / name).read_text()

    with pytest.raises(ToolError) as raised:
        await opener.run(ctx, {"name": "missing"})
    assert raised.value.code == "not_found"


def test_misdeclared_tools_fail_at_decoration() -> None:
    with pytest.raises(TypeError, match="go together"):

        @tool(approval="bash")
        async def no_subject(ctx: ToolContext, command: str) -> str:
            return command

    with pytest.raises(TypeError, match="not a parameter"):

        @tool(approval="bash", subject="cmd")
        async def wrong_subject(ctx: ToolContext, command: str) -> str:
            return command

    with pytest.raises(TypeError, match="plain parameter"):

        @tool()
        async def variadic(ctx: ToolContext, *names: str) -> str:
            return ""


def test_parse_docstring_sections() -> None:
    doc = (
        "Summary line\ncontinues.\n\nArgs:\n    a: First.\n    b (int): Second,\n"
        "        wrapped.\n\nReturns:\n    c: not an arg.\n"
    )
    description, args = parse_docstring(doc)
    assert description == "Summary line continues."
    assert args == {"a": "First.", "b": "Second, wrapped."}
