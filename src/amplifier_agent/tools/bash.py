"""`bash`: run a command with `bash -c` in its own process group, killed whole on timeout/cancel."""

from __future__ import annotations

import asyncio
import os
import subprocess
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

from amplifier_agent.core.catalog import SECRET_ENV_VARS
from amplifier_agent.tools.base import ToolContext, ToolError, kill_group
from amplifier_agent.tools.paths import workspace_root
from amplifier_agent.tools.schema import tool

MAX_OUTPUT_CHARS = 30_000
#: After the shell exits, how long background children may keep the output pipe open.
EXIT_GRACE_S = 0.5
_CHUNK = 65_536


class _Tail:
    """The last bytes of a stream, enough to decode the last MAX_OUTPUT_CHARS characters."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._limit = MAX_OUTPUT_CHARS * 4  # the widest UTF-8 character is 4 bytes
        self.truncated = False

    def feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        if len(self._buffer) > self._limit:
            del self._buffer[: len(self._buffer) - self._limit]
            self.truncated = True

    def text(self) -> str:
        text = self._buffer.decode("utf-8", errors="replace")
        if len(text) > MAX_OUTPUT_CHARS:
            text = text[-MAX_OUTPUT_CHARS:]
            self.truncated = True
        if self.truncated:
            return f"[output truncated: showing the last {MAX_OUTPUT_CHARS} characters]\n{text}"
        return text


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    output: str
    exit_code: int | None  # None: killed on timeout


@tool(approval="bash", subject="command")
async def bash(
    ctx: ToolContext,
    command: str,
    timeout_s: Annotated[int, Field(ge=1, le=600)] = 120,
) -> str:
    """Run a shell command with `bash -c` in the working directory; stdout and stderr combined.

    Returns the last 30,000 characters of output and the exit code. The command and everything
    it started are killed when the timeout expires. Stdin is empty.

    Args:
        command: The bash command line to run.
        timeout_s: Seconds before the command and all its children are killed (max 600).
    """
    outcome = await run_command(ctx, command, timeout_s)
    if outcome.exit_code is None:
        raise ToolError(
            "tool_timeout",
            f"command timed out after {timeout_s}s and was killed; output so far:\n"
            f"{outcome.output}",
        )
    body = outcome.output.rstrip("\n") or "(no output)"
    return f"{body}\nExit code: {outcome.exit_code}"


def command_environment() -> dict[str, str]:
    """The engine's environment minus its secrets: a model-written command (`env`, `curl ...`)
    must not be able to read or send the provider keys."""
    return {k: v for k, v in os.environ.items() if k not in SECRET_ENV_VARS}


async def run_command(ctx: ToolContext, command: str, timeout_s: float) -> CommandOutcome:
    """Run `command`; whatever happens (exit, timeout, cancellation) its group is SIGKILLed."""
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        command,
        cwd=workspace_root(ctx),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=command_environment(),
    )
    pgid = process.pid  # a new session leader's group id is its pid
    ctx.processes.add(pgid)
    tail = _Tail()
    assert process.stdout is not None
    reader = asyncio.create_task(_pump(process.stdout, tail))
    try:
        try:
            async with asyncio.timeout(timeout_s):
                await _exited(process)
        except TimeoutError:
            kill_group(pgid)
            await _settle(reader)
            return CommandOutcome(tail.text(), None)
        # Background children may still hold the pipe; give them a moment, then end them.
        await _settle(reader, EXIT_GRACE_S)
        return CommandOutcome(tail.text(), process.returncode)
    finally:
        kill_group(pgid)
        ctx.processes.discard(pgid)
        reader.cancel()


async def _exited(process: asyncio.subprocess.Process) -> None:
    """Wait for the shell itself to exit.

    Polls because `process.wait()` also waits for the output pipe to close, which a background
    child holding it would delay until the timeout.
    """
    delay = 0.002
    while process.returncode is None:
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)


async def _pump(stream: asyncio.StreamReader, tail: _Tail) -> None:
    while chunk := await stream.read(_CHUNK):
        tail.feed(chunk)


async def _settle(reader: asyncio.Task[None], grace_s: float = 1.0) -> None:
    """Wait briefly for the reader to hit end of output; a pipe held open is not waited for."""
    await asyncio.wait({reader}, timeout=grace_s)
