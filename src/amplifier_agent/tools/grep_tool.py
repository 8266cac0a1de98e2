"""`grep`: regex search over workspace text files, reported as `path:line:text`."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Annotated

import anyio.to_thread
from pydantic import Field

from amplifier_agent.tools.base import ToolContext, ToolError
from amplifier_agent.tools.paths import (
    SNIFF_BYTES,
    display_path,
    is_within,
    looks_binary,
    resolve_in_workspace,
    workspace_root,
)
from amplifier_agent.tools.schema import tool

MAX_LINE_CHARS = 2000
SKIPPED_DIRS = frozenset({".git"})


@dataclass(frozen=True, slots=True)
class _Search:
    root: Path
    regex: re.Pattern[str]
    glob: str | None
    max_results: int


@tool(name="grep")
async def grep_files(
    ctx: ToolContext,
    pattern: str,
    path: str = ".",
    glob: str | None = None,
    ignore_case: bool = False,
    max_results: Annotated[int, Field(ge=1, le=5000)] = 500,
) -> str:
    """Search file contents with a regular expression; one `path:line:text` per match.

    Binary files and `.git` directories are skipped.

    Args:
        pattern: Python regular expression to search for.
        path: File or directory to search, relative to the working directory.
        glob: Only search files whose path matches this glob (`*.py`, `src/*.ts`).
        ignore_case: Match case-insensitively.
        max_results: Stop after this many matching lines.
    """
    try:
        regex = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as exc:
        raise ToolError("invalid_tool_arguments", f"grep: bad regex {pattern!r}: {exc}") from None
    base = resolve_in_workspace(ctx, path)
    if not base.exists():
        raise ToolError("not_found", f"{path} does not exist")
    search = _Search(workspace_root(ctx), regex, glob, max_results)
    hits = await anyio.to_thread.run_sync(partial(_search, search, base))
    if not hits:
        return f"No matches for {pattern}."
    if len(hits) >= max_results:
        hits.append(f"(stopped after {max_results} matches)")
    return "\n".join(hits)


def _search(search: _Search, base: Path) -> list[str]:
    hits: list[str] = []
    for file in _files(search.root, base):
        name = display_path(search.root, file)
        if search.glob and not PurePosixPath(name).match(search.glob):
            continue
        for number, text in _matching_lines(file, search.regex):
            hits.append(f"{name}:{number}:{text}")
            if len(hits) >= search.max_results:
                return hits
    return hits


def _files(root: Path, base: Path) -> Iterator[Path]:
    if base.is_file():
        yield base
        return
    for directory, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(name for name in dirnames if name not in SKIPPED_DIRS)
        for filename in sorted(filenames):
            file = Path(directory, filename)
            if is_within(Path(os.path.realpath(file)), root) and file.is_file():
                yield file


def _matching_lines(file: Path, regex: re.Pattern[str]) -> Iterator[tuple[int, str]]:
    try:
        with file.open("rb") as handle:
            if looks_binary(handle.read(SNIFF_BYTES)):
                return
            handle.seek(0)
            for number, raw in enumerate(handle, start=1):
                text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if regex.search(text):
                    yield number, text[:MAX_LINE_CHARS]
    except OSError:
        return  # unreadable files are skipped, like binary ones
