"""The `@tool` decorator: a typed async function becomes a `Tool` with a derived JSON schema.

Model-supplied arguments are untrusted, so every call is validated against the same pydantic
model the schema was derived from.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Awaitable, Callable, Mapping
from types import CodeType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from amplifier_agent.tools.base import (
    ApprovalKind,
    SubjectOf,
    Tool,
    ToolContext,
    ToolError,
    ToolResult,
)

ToolFunction = Callable[..., Awaitable[str | ToolResult]]
Subject = str | SubjectOf | None

# Keys whose values are data, not sub-schemas: never strip or rewrite inside them.
_DATA_KEYS = frozenset({"default", "enum", "const", "examples"})
_ARG_LINE = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_SECTIONS = frozenset({"Args:", "Arguments:", "Parameters:", "Returns:", "Raises:"})


def tool(
    *, name: str | None = None, approval: ApprovalKind | None = None, subject: Subject = None
) -> Callable[[ToolFunction], Tool]:
    """Decorate `async def f(ctx: ToolContext, <typed params>) -> str | ToolResult`.

    The docstring's summary is the description and its `Args:` section the parameter
    descriptions. `subject` (required with `approval`) is a parameter name or a function of the
    context and the validated arguments.
    """

    def wrap(fn: ToolFunction) -> Tool:
        return function_tool(fn, name=name, approval=approval, subject=subject)

    return wrap


def function_tool(
    fn: ToolFunction,
    *,
    name: str | None = None,
    approval: ApprovalKind | None = None,
    subject: Subject = None,
) -> Tool:
    if (approval is None) != (subject is None):
        raise TypeError(f"{fn.__name__}: `approval` and `subject` go together")
    tool_name = name or fn.__name__
    description, model, parameters = _derived(fn)

    async def invoke(ctx: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        values = validate_arguments(tool_name, model, arguments)
        try:
            out = await fn(ctx, **values)
        except OSError as exc:
            raise os_error(exc) from exc
        except UnicodeError as exc:
            raise ToolError("invalid_tool_arguments", f"{tool_name}: {exc}") from exc
        return out if isinstance(out, ToolResult) else ToolResult(out)

    return Tool(
        name=tool_name,
        description=description,
        parameters=parameters,
        invoke=invoke,
        approval_kind=approval,
        subject_of=_subject_function(tool_name, model, subject),
    )


#: Derived per code object: tools built per turn from closures (`delegate`, `load_skill`) share
#: their function's code, so their pydantic model and schema are made once per process.
_DERIVED: dict[CodeType, tuple[str, type[BaseModel], dict[str, Any]]] = {}


def _derived(fn: ToolFunction) -> tuple[str, type[BaseModel], dict[str, Any]]:
    code = getattr(fn, "__code__", None)
    cached = _DERIVED.get(code) if isinstance(code, CodeType) else None
    if cached is None:
        description, arg_docs = parse_docstring(inspect.getdoc(fn) or "")
        model = arguments_model(fn, arg_docs)
        cached = (description, model, clean_schema(model.model_json_schema()))
        if isinstance(code, CodeType):
            _DERIVED[code] = cached
    return cached


def _subject_function(name: str, model: type[BaseModel], subject: Subject) -> SubjectOf | None:
    if subject is None:
        return None
    if isinstance(subject, str):
        if subject not in model.model_fields:
            raise TypeError(f"{name}: subject {subject!r} is not a parameter")
        key = subject

        def by_key(ctx: ToolContext, arguments: dict[str, Any]) -> str:
            return str(validate_arguments(name, model, arguments)[key])

        return by_key
    compute = subject

    def computed(ctx: ToolContext, arguments: dict[str, Any]) -> str:
        return compute(ctx, validate_arguments(name, model, arguments))

    return computed


def arguments_model(fn: ToolFunction, arg_docs: Mapping[str, str]) -> type[BaseModel]:
    """A closed pydantic model of every parameter after the leading context parameter."""
    hints = typing.get_type_hints(fn, include_extras=True)
    params = list(inspect.signature(fn).parameters.values())[1:]
    fields: dict[str, Any] = {}
    for param in params:
        if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            raise TypeError(f"{fn.__name__}: parameter {param.name} must be a plain parameter")
        if param.name not in hints:
            raise TypeError(f"{fn.__name__}: parameter {param.name} needs a type annotation")
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (
            hints[param.name],
            Field(default, description=arg_docs.get(param.name)),
        )
    model: type[BaseModel] = create_model(
        f"{fn.__name__}_arguments", __config__=ConfigDict(extra="forbid"), **fields
    )
    return model


def validate_arguments(
    name: str, model: type[BaseModel], arguments: Mapping[str, Any]
) -> dict[str, Any]:
    try:
        instance = model.model_validate(arguments)
    except ValidationError as exc:
        raise ToolError("invalid_tool_arguments", f"{name}: {describe(exc)}") from None
    return {key: getattr(instance, key) for key in type(instance).model_fields}


def describe(exc: ValidationError) -> str:
    """One line per problem, naming the argument: `limit: Input should be a valid integer`."""
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "arguments"
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)


def os_error(exc: OSError) -> ToolError:
    where = f" ({exc.filename})" if exc.filename else ""
    reason = exc.strerror or str(exc)
    if isinstance(exc, FileNotFoundError):
        return ToolError("not_found", f"no such file or directory{where}")
    if isinstance(exc, IsADirectoryError):
        return ToolError("not_a_file", f"is a directory{where}")
    if isinstance(exc, NotADirectoryError):
        return ToolError("not_found", f"a path component is not a directory{where}")
    return ToolError("io_error", f"{reason}{where}")


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The prose before the first section (the description) and the `Args:` descriptions."""
    lines = doc.splitlines()
    prose: list[str] = []
    for line in lines:
        if line.strip() in _SECTIONS:
            break
        prose.append(line.strip())
    paragraphs = "\n\n".join(
        " ".join(block.split()) for block in "\n".join(prose).split("\n\n") if block.strip()
    )
    args: dict[str, str] = {}
    current: str | None = None
    in_args = False
    for line in lines:
        stripped = line.strip()
        if stripped in ("Args:", "Arguments:", "Parameters:"):
            in_args, current = True, None
            continue
        if not in_args:
            continue
        if stripped and not line.startswith((" ", "\t")):
            break  # the next section
        match = _ARG_LINE.match(stripped)
        if match and line.startswith(" " * 4) and not line.startswith(" " * 8):
            current = match.group(1).lstrip("*")
            args[current] = match.group(2).strip()
        elif current is not None and stripped:
            args[current] = f"{args[current]} {stripped}".strip()
    return paragraphs, args


def clean_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Drop pydantic's `title` noise and inline `$defs`, so every provider accepts the schema."""
    defs = schema.get("$defs", {})
    cleaned = _clean(schema, defs)
    assert isinstance(cleaned, dict)
    cleaned.setdefault("properties", {})
    return cleaned


def _clean(node: Any, defs: Mapping[str, Any]) -> Any:
    if isinstance(node, list):
        return [_clean(item, defs) for item in node]
    if not isinstance(node, Mapping):
        return node
    if "$ref" in node:
        target = defs[str(node["$ref"]).rsplit("/", 1)[-1]]
        rest = {key: value for key, value in node.items() if key != "$ref"}
        return _clean({**target, **rest}, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("title", "$defs"):
            continue
        if key == "properties":
            out[key] = {prop: _clean(sub, defs) for prop, sub in value.items()}
        elif key in _DATA_KEYS:
            out[key] = value
        else:
            out[key] = _clean(value, defs)
    return out
