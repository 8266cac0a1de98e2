"""`read_file`: numbered lines of a text file inside the workspace."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated

import anyio.to_thread
from pydantic import Field

from amplifier_agent.tools.base import ToolContext, ToolError
from amplifier_agent.tools.paths import SNIFF_BYTES, looks_binary, resolve_in_workspace
from amplifier_agent.tools.schema import tool

MAX_LINE_CHARS = 2000


@tool()
async def read_file(
    ctx: ToolContext,
    path: str,
    offset: Annotated[int, Field(ge=1)] = 1,
    limit: Annotated[int, Field(ge=1)] = 2000,
) -> str:
    """Read a text file and return its lines numbered from 1 (`     1<TAB>text`).

    Args:
        path: File path, relative to the working directory.
        offset: Line number to start reading at (1 = first line).
        limit: Maximum number of lines to return.
    """
    target = resolve_in_workspace(ctx, path)
    return await anyio.to_thread.run_sync(partial(_read, target, path, offset, limit))


def _read(target: Path, shown: str, offset: int, limit: int) -> str:
    if target.is_dir():
        raise ToolError("not_a_file", f"{shown} is a directory; use glob to list files")
    if target.exists() and not target.is_file():
        raise ToolError("not_a_file", f"{shown} is not a regular file")
    with target.open("rb") as handle:
        if looks_binary(handle.read(SNIFF_BYTES)):
            raise ToolError("binary_file", f"{shown} is a binary file and cannot be read as text")
        handle.seek(0)
        numbered: list[str] = []
        total = 0
        for total, raw in enumerate(handle, start=1):
            if offset <= total < offset + limit:
                numbered.append(f"{total:>6}\t{_line(raw)}")
    if total == 0:
        return f"{shown} is empty."
    if not numbered:
        return f"{shown} has {total} lines; offset {offset} is past the end."
    last = offset + len(numbered) - 1
    if offset == 1 and last == total:
        return "\n".join(numbered)
    more = f"; pass offset={last + 1} to continue" if last < total else ""
    return "\n".join(numbered) + f"\n(lines {offset}-{last} of {total}{more})"


def _line(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    if len(text) > MAX_LINE_CHARS:
        return text[:MAX_LINE_CHARS] + " [line truncated]"
    return text
