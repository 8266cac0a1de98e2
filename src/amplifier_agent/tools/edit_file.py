"""`edit_file`: exact string replacement in a workspace file, unique unless `replace_all`."""

from __future__ import annotations

from amplifier_agent.tools.base import ToolContext, ToolError
from amplifier_agent.tools.paths import (
    SNIFF_BYTES,
    display_path,
    looks_binary,
    path_subject,
    resolve_in_workspace,
    workspace_root,
)
from amplifier_agent.tools.schema import tool

# Undecodable bytes survive the round trip untouched instead of being replaced.
_CODEC = ("utf-8", "surrogateescape")


@tool(approval="write", subject=path_subject)
async def edit_file(
    ctx: ToolContext,
    path: str,
    old_string: str,
    new_string: str,
    replace_all: bool = False,
) -> str:
    """Replace an exact string in a file. It must occur exactly once unless replace_all is set.

    Args:
        path: File path, relative to the working directory.
        old_string: The exact text to replace, including whitespace and indentation.
        new_string: The replacement text.
        replace_all: Replace every occurrence instead of requiring a unique one.
    """
    if not old_string:
        raise ToolError("invalid_tool_arguments", "edit_file: old_string must not be empty")
    if old_string == new_string:
        raise ToolError("invalid_tool_arguments", "edit_file: old_string equals new_string")
    target = resolve_in_workspace(ctx, path)
    raw = target.read_bytes()
    if looks_binary(raw[:SNIFF_BYTES]):
        raise ToolError("binary_file", f"{path} is a binary file")
    text = raw.decode(*_CODEC)
    count = text.count(old_string)
    if count == 0:
        raise ToolError("no_match", f"old_string was not found in {path}; read the file first")
    if count > 1 and not replace_all:
        raise ToolError(
            "multiple_matches",
            f"old_string occurs {count} times in {path}; include more surrounding context "
            "to make it unique, or set replace_all",
        )
    target.write_bytes(text.replace(old_string, new_string).encode(*_CODEC))
    where = display_path(workspace_root(ctx), target)
    return f"Replaced {count} occurrence{'s' if count > 1 else ''} in {where}."
