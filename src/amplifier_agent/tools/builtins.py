"""The built-in tools in their stable order (delegate and load_skill are built by the loop)."""

from __future__ import annotations

from amplifier_agent.tools.base import Tool
from amplifier_agent.tools.bash import bash
from amplifier_agent.tools.edit_file import edit_file
from amplifier_agent.tools.glob_tool import glob_files
from amplifier_agent.tools.grep_tool import grep_files
from amplifier_agent.tools.read_file import read_file
from amplifier_agent.tools.todo import todo
from amplifier_agent.tools.web_fetch import web_fetch
from amplifier_agent.tools.write_file import write_file


def builtin_tools() -> tuple[Tool, ...]:
    return (read_file, write_file, edit_file, glob_files, grep_files, bash, web_fetch, todo)
