"""Workspace confinement for file tools: every path resolves inside the context's cwd."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from amplifier_agent.tools.base import ToolContext, ToolError

#: How much of a file's head is checked for NUL bytes to call it binary.
SNIFF_BYTES = 8192


def workspace_root(ctx: ToolContext) -> Path:
    return Path(os.path.realpath(ctx.cwd))


def resolve_in_workspace(ctx: ToolContext, path: str) -> Path:
    """The realpath of `path` (relative to the cwd), refused if it leaves the cwd.

    Symlinks are resolved first, so a link pointing outside is refused like `../x`.
    """
    if "\x00" in path:
        raise ToolError("invalid_tool_arguments", "path contains a NUL byte")
    root = workspace_root(ctx)
    target = Path(os.path.realpath(root / path))
    if not is_within(target, root):
        raise ToolError(
            "path_outside_workspace",
            f"{path} resolves outside the working directory {root}; use a path inside it",
        )
    return target


def is_within(target: Path, root: Path) -> bool:
    return target == root or root in target.parents


def display_path(root: Path, target: Path) -> str:
    """`target` relative to the workspace root, with forward slashes."""
    try:
        relative = target.relative_to(root)
    except ValueError:
        return str(target)
    return relative.as_posix() or "."


def path_subject(ctx: ToolContext, arguments: dict[str, Any]) -> str:
    """Approval subject of write tools: the cwd-relative path (never raises on escapes)."""
    root = workspace_root(ctx)
    target = Path(os.path.realpath(root / str(arguments["path"]).replace("\x00", "")))
    return os.path.relpath(target, root).replace(os.sep, "/")


def looks_binary(head: bytes) -> bool:
    return b"\x00" in head
