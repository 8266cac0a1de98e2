"""`glob`: files matching a pattern inside the workspace, newest first."""

from __future__ import annotations

import os
import stat
from functools import partial
from pathlib import Path

import anyio.to_thread

from amplifier_agent.tools.base import ToolContext, ToolError
from amplifier_agent.tools.paths import (
    display_path,
    is_within,
    resolve_in_workspace,
    workspace_root,
)
from amplifier_agent.tools.schema import tool

MAX_RESULTS = 1000


@tool(name="glob")
async def glob_files(ctx: ToolContext, pattern: str, path: str = ".") -> str:
    """Find files by glob pattern (`**/*.py`, `src/*.ts`), newest first, at most 1000.

    Args:
        pattern: Glob pattern relative to `path`; `**` matches any number of directories.
        path: Directory to search in, relative to the working directory.
    """
    base = resolve_in_workspace(ctx, path)
    if not base.is_dir():
        raise ToolError("not_found", f"{path} is not a directory")
    root = workspace_root(ctx)
    found = await anyio.to_thread.run_sync(partial(_find, root, base, pattern))
    if not found:
        return f"No files match {pattern} in {display_path(root, base)}."
    shown = [name for _, name in found[:MAX_RESULTS]]
    if len(found) > MAX_RESULTS:
        shown.append(f"(showing the {MAX_RESULTS} newest of {len(found)} matches)")
    return "\n".join(shown)


def _find(root: Path, base: Path, pattern: str) -> list[tuple[float, str]]:
    try:
        candidates = list(base.glob(pattern))
    except (ValueError, NotImplementedError) as exc:
        raise ToolError("invalid_tool_arguments", f"glob: bad pattern {pattern!r}: {exc}") from None
    found: list[tuple[float, str]] = []
    for candidate in candidates:
        if ".git" in candidate.parts[len(base.parts) :]:
            continue
        real = Path(os.path.realpath(candidate))
        if not is_within(real, root):
            continue
        try:
            info = candidate.stat()
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            found.append((info.st_mtime, display_path(root, Path(os.path.abspath(candidate)))))
    found.sort(key=lambda item: (-item[0], item[1]))
    return found
