"""read_file, write_file, edit_file, glob and grep: behaviour and workspace confinement."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from amplifier_agent.tools import Tool, ToolContext, ToolError
from amplifier_agent.tools.edit_file import edit_file
from amplifier_agent.tools.glob_tool import glob_files
from amplifier_agent.tools.grep_tool import grep_files
from amplifier_agent.tools.read_file import read_file
from amplifier_agent.tools.write_file import write_file


async def run(tool: Tool, ctx: ToolContext, **arguments: Any) -> str:
    result = await tool.run(ctx, arguments)
    assert not result.is_error
    return result.content


async def fails(tool: Tool, ctx: ToolContext, **arguments: Any) -> ToolError:
    with pytest.raises(ToolError) as raised:
        await tool.run(ctx, arguments)
    return raised.value


# --- read_file -------------------------------------------------------------------------------


async def test_read_numbers_lines(ctx: ToolContext, workspace: Path) -> None:
    (workspace / "a.txt").write_text("alpha\nbeta\r\ngamma")
    assert await run(read_file, ctx, path="a.txt") == "     1\talpha\n     2\tbeta\n     3\tgamma"


async def test_read_offset_and_limit(ctx: ToolContext, workspace: Path) -> None:
    (workspace / "a.txt").write_text("".join(f"line {n}\n" for n in range(1, 11)))
    out = await run(read_file, ctx, path="a.txt", offset=4, limit=2)
    assert out.splitlines()[:2] == ["     4\tline 4", "     5\tline 5"]
    assert "lines 4-5 of 10" in out and "offset=6" in out
    past = await run(read_file, ctx, path="a.txt", offset=50)
    assert "past the end" in past


async def test_read_cuts_long_lines(ctx: ToolContext, workspace: Path) -> None:
    (workspace / "long.txt").write_text("x" * 5000 + "\nshort\n")
    first, second = (await run(read_file, ctx, path="long.txt")).splitlines()
    assert first == "     1\t" + "x" * 2000 + " [line truncated]"
    assert second == "     2\tshort"


async def test_read_refuses_binary_and_missing_files(ctx: ToolContext, workspace: Path) -> None:
    (workspace / "blob.bin").write_bytes(b"PK\x03\x04\x00\x00binary")
    assert (await fails(read_file, ctx, path="blob.bin")).code == "binary_file"
    assert (await fails(read_file, ctx, path="nope.txt")).code == "not_found"
    (workspace / "dir").mkdir()
    assert (await fails(read_file, ctx, path="dir")).code == "not_a_file"


async def test_read_empty_file(ctx: ToolContext, workspace: Path) -> None:
    (workspace / "empty.txt").write_text("")
    assert "empty" in await run(read_file, ctx, path="empty.txt")


# --- confinement -----------------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret\n")
    return secret


@pytest.mark.parametrize("tool", [read_file, write_file, edit_file], ids=lambda t: t.name)
async def test_file_tools_refuse_paths_outside_the_workspace(
    tool: Tool, ctx: ToolContext, workspace: Path, outside: Path
) -> None:
    os.symlink(outside, workspace / "link.txt")
    os.symlink(outside.parent, workspace / "linkdir")
    extra = {"content": "x"} if tool is write_file else {}
    if tool is edit_file:
        extra = {"old_string": "top", "new_string": "bottom"}
    for path in (
        "../secret.txt",
        str(outside),
        "link.txt",
        "linkdir/secret.txt",
        "linkdir/new.txt",
    ):
        error = await fails(tool, ctx, path=path, **extra)
        assert error.code == "path_outside_workspace", path
    assert outside.read_text() == "top secret\n"
    assert not (outside.parent / "new.txt").exists()


async def test_absolute_paths_inside_the_workspace_are_fine(
    ctx: ToolContext, workspace: Path
) -> None:
    (workspace / "in.txt").write_text("inside\n")
    assert "inside" in await run(read_file, ctx, path=str(workspace / "in.txt"))


async def test_symlinks_inside_the_workspace_are_followed(
    ctx: ToolContext, workspace: Path
) -> None:
    (workspace / "real.txt").write_text("real\n")
    os.symlink(workspace / "real.txt", workspace / "alias.txt")
    assert "real" in await run(read_file, ctx, path="alias.txt")


# --- write_file / edit_file ------------------------------------------------------------------


async def test_write_creates_parents_and_overwrites(ctx: ToolContext, workspace: Path) -> None:
    out = await run(write_file, ctx, path="deep/er/new.txt", content="héllo\n")
    assert (workspace / "deep/er/new.txt").read_text(encoding="utf-8") == "héllo\n"
    assert out == "Created deep/er/new.txt (7 bytes)."
    assert (await run(write_file, ctx, path="deep/er/new.txt", content="x")).startswith("Overwrote")
    assert (workspace / "deep/er/new.txt").read_text() == "x"


async def test_write_refuses_a_directory(ctx: ToolContext, workspace: Path) -> None:
    (workspace / "d").mkdir()
    assert (await fails(write_file, ctx, path="d", content="x")).code == "not_a_file"


async def test_edit_replaces_a_unique_match(ctx: ToolContext, workspace: Path) -> None:
    target = workspace / "code.py"
    target.write_bytes(b"def f():\r\n    return 1\r\n")
    out = await run(edit_file, ctx, path="code.py", old_string="return 1", new_string="return 2")
    assert out == "Replaced 1 occurrence in code.py."
    assert target.read_bytes() == b"def f():\r\n    return 2\r\n"


async def test_edit_reports_no_match_and_multiple_matches(
    ctx: ToolContext, workspace: Path
) -> None:
    target = workspace / "t.txt"
    target.write_text("a b a b a\n")
    missing = await fails(edit_file, ctx, path="t.txt", old_string="zzz", new_string="y")
    assert missing.code == "no_match" and "not found" in missing.message
    several = await fails(edit_file, ctx, path="t.txt", old_string="a", new_string="c")
    assert several.code == "multiple_matches" and "3 times" in several.message
    assert target.read_text() == "a b a b a\n"
    out = await run(edit_file, ctx, path="t.txt", old_string="a", new_string="c", replace_all=True)
    assert out == "Replaced 3 occurrences in t.txt."
    assert target.read_text() == "c b c b c\n"


async def test_edit_keeps_undecodable_bytes(ctx: ToolContext, workspace: Path) -> None:
    target = workspace / "latin.txt"
    target.write_bytes(b"caf\xe9 ok\n")
    await run(edit_file, ctx, path="latin.txt", old_string="ok", new_string="fine")
    assert target.read_bytes() == b"caf\xe9 fine\n"


async def test_edit_rejects_empty_or_identical_strings(ctx: ToolContext, workspace: Path) -> None:
    (workspace / "t.txt").write_text("abc")
    empty = await fails(edit_file, ctx, path="t.txt", old_string="", new_string="x")
    same = await fails(edit_file, ctx, path="t.txt", old_string="a", new_string="a")
    assert empty.code == same.code == "invalid_tool_arguments"


# --- glob ------------------------------------------------------------------------------------


def make_tree(workspace: Path) -> None:
    files = {"old.py": 1_000_000, "src/mid.py": 2_000_000, "src/pkg/new.py": 3_000_000}
    for name, mtime in files.items():
        path = workspace / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {name}\nimport os\n")
        os.utime(path, (mtime, mtime))
    (workspace / "notes.md").write_text("TODO: import nothing\n")
    (workspace / ".git").mkdir()
    (workspace / ".git" / "hook.py").write_text("import os\n")
    (workspace / "blob.py").write_bytes(b"import os\x00\x01")
    os.utime(workspace / "blob.py", (500, 500))


async def test_glob_lists_newest_first_relative(ctx: ToolContext, workspace: Path) -> None:
    make_tree(workspace)
    out = await run(glob_files, ctx, pattern="**/*.py")
    assert out.splitlines() == ["src/pkg/new.py", "src/mid.py", "old.py", "blob.py"]
    assert await run(glob_files, ctx, pattern="*.py", path="src") == "src/mid.py"
    assert "No files match" in await run(glob_files, ctx, pattern="*.rs")


async def test_glob_caps_results(ctx: ToolContext, workspace: Path) -> None:
    for n in range(1005):
        (workspace / f"f{n:04}.txt").write_text("")
    lines = (await run(glob_files, ctx, pattern="*.txt")).splitlines()
    assert len(lines) == 1001
    assert lines[-1] == "(showing the 1000 newest of 1005 matches)"


async def test_glob_stays_inside_the_workspace(
    ctx: ToolContext, workspace: Path, outside: Path
) -> None:
    os.symlink(outside.parent, workspace / "escape")
    assert "secret" not in await run(glob_files, ctx, pattern="../*")
    assert "secret" not in await run(glob_files, ctx, pattern="escape/*")
    assert (await fails(glob_files, ctx, pattern="*", path="..")).code == "path_outside_workspace"


# --- grep ------------------------------------------------------------------------------------


async def test_grep_reports_path_line_text(ctx: ToolContext, workspace: Path) -> None:
    make_tree(workspace)
    out = await run(grep_files, ctx, pattern=r"^import \w+")
    assert out.splitlines() == [
        "old.py:2:import os",
        "src/mid.py:2:import os",
        "src/pkg/new.py:2:import os",
    ]


async def test_grep_glob_case_and_limit(ctx: ToolContext, workspace: Path) -> None:
    make_tree(workspace)
    assert (
        await run(grep_files, ctx, pattern="todo", ignore_case=True)
        == "notes.md:1:TODO: import nothing"
    )
    assert "No matches" in await run(grep_files, ctx, pattern="todo")
    only_md = await run(grep_files, ctx, pattern="import", glob="*.md")
    assert only_md == "notes.md:1:TODO: import nothing"
    limited = (await run(grep_files, ctx, pattern="import", max_results=2)).splitlines()
    assert len(limited) == 3 and limited[-1] == "(stopped after 2 matches)"
    single = await run(grep_files, ctx, pattern="import", path="src/mid.py")
    assert single == "src/mid.py:2:import os"


async def test_grep_bad_regex_and_escape(ctx: ToolContext, workspace: Path, outside: Path) -> None:
    assert (await fails(grep_files, ctx, pattern="(")).code == "invalid_tool_arguments"
    os.symlink(outside, workspace / "link.txt")
    assert "No matches" in await run(grep_files, ctx, pattern="secret")
    assert (await fails(grep_files, ctx, pattern="x", path="../")).code == "path_outside_workspace"


async def test_unencodable_text_is_an_argument_error(ctx: ToolContext, workspace: Path) -> None:
    error = await fails(write_file, ctx, path="s.txt", content="lone \ud800 surrogate")
    assert error.code == "invalid_tool_arguments"
    assert not (workspace / "s.txt").exists()


async def test_read_refuses_special_files(ctx: ToolContext, workspace: Path) -> None:
    os.mkfifo(workspace / "pipe")
    assert (await fails(read_file, ctx, path="pipe")).code == "not_a_file"
