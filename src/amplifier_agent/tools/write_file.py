"""`write_file`: create or overwrite a file inside the workspace, creating parent directories."""

from __future__ import annotations

from amplifier_agent.tools.base import ToolContext, ToolError
from amplifier_agent.tools.paths import (
    display_path,
    path_subject,
    resolve_in_workspace,
    workspace_root,
)
from amplifier_agent.tools.schema import tool


@tool(approval="write", subject=path_subject)
async def write_file(ctx: ToolContext, path: str, content: str) -> str:
    """Write a file (replacing it if it exists), creating missing parent directories.

    Args:
        path: File path, relative to the working directory.
        content: The complete new content of the file.
    """
    target = resolve_in_workspace(ctx, path)
    if target.is_dir():
        raise ToolError("not_a_file", f"{path} is a directory")
    existed = target.exists()
    target.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8")
    target.write_bytes(data)
    verb = "Overwrote" if existed else "Created"
    return f"{verb} {display_path(workspace_root(ctx), target)} ({len(data)} bytes)."
