"""A stdio transport for MCP servers that stay in the engine's process group.

The SDK's own stdio client starts each server in a new session; ours does not, so a server dies
with the engine's group even when the engine is killed without running its cleanup.
"""

from __future__ import annotations

import logging
import subprocess
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream, Process
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.client.stdio import get_default_environment
from mcp.shared.message import SessionMessage
from mcp.types import jsonrpc_message_adapter
from pydantic import ValidationError

from amplifier_agent.tools.mcp_config import McpServerConfig

logger = logging.getLogger(__name__)

#: After stdin closes, how long a server may take to exit before SIGTERM, then before SIGKILL.
EXIT_GRACE_S = 2.0
_POLL_S = 0.02
_MAX_STDERR_LINE = 65_536
_PIPE_ERRORS = (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError)

Incoming = MemoryObjectReceiveStream[SessionMessage | Exception]
Outgoing = MemoryObjectSendStream[SessionMessage]


@asynccontextmanager
async def stdio_transport(
    server: McpServerConfig, stderr_tail: deque[str]
) -> AsyncIterator[tuple[Incoming, Outgoing]]:
    """Spawn `server` (argv, no shell) and bridge its stdio to the session's streams.

    The server's stderr is logged at DEBUG and its last lines kept in `stderr_tail`.
    """
    process = await anyio.open_process(
        [server.command, *server.args],
        env=get_default_environment() | dict(server.env),
        cwd=server.cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    to_session, incoming = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    outgoing, from_session = anyio.create_memory_object_stream[SessionMessage](0)
    try:
        async with anyio.create_task_group() as group:
            assert process.stdout and process.stdin and process.stderr
            group.start_soon(_read_messages, process.stdout, to_session)
            group.start_soon(_write_messages, from_session, process.stdin, to_session)
            group.start_soon(_read_stderr, server.name, process.stderr, stderr_tail)
            try:
                yield incoming, outgoing
            finally:
                # Stopping must complete even when the caller is being cancelled.
                with anyio.CancelScope(shield=True):
                    await stop_process(process)
                group.cancel_scope.cancel()
    finally:
        for stream in (incoming, outgoing, to_session, from_session):
            stream.close()


async def stop_process(process: Process) -> None:
    """Close stdin, then escalate to SIGTERM and SIGKILL, each after a grace period."""
    if process.stdin is not None:
        with suppress(*_PIPE_ERRORS):
            await process.stdin.aclose()
    for signal_it in (process.terminate, process.kill):
        if await _exited(process, EXIT_GRACE_S):
            break
        with suppress(ProcessLookupError):
            signal_it()
    if not await _exited(process, EXIT_GRACE_S):
        logger.warning("MCP server process %d survived SIGKILL", process.pid)
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            with suppress(*_PIPE_ERRORS):
                await pipe.aclose()


async def _exited(process: Process, timeout: float) -> bool:
    # Polls instead of process.wait(): on 3.11+ wait() also waits for the pipes to close, which
    # a grandchild holding them can delay indefinitely.
    with anyio.move_on_after(timeout):
        while process.returncode is None:
            await anyio.sleep(_POLL_S)
    return process.returncode is not None


async def _read_messages(
    stdout: ByteReceiveStream, sink: MemoryObjectSendStream[SessionMessage | Exception]
) -> None:
    buffer = bytearray()
    async with sink:
        with suppress(*_PIPE_ERRORS):
            async for chunk in stdout:
                buffer += chunk
                while (end := buffer.find(b"\n")) >= 0:
                    line = bytes(buffer[:end])
                    del buffer[: end + 1]
                    if line.strip():
                        await sink.send(_parse(line))


def _parse(line: bytes) -> SessionMessage | Exception:
    try:
        return SessionMessage(jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValidationError as exc:  # handed to the session, which reports it
        return exc


async def _write_messages(
    source: MemoryObjectReceiveStream[SessionMessage],
    stdin: ByteSendStream,
    sink: MemoryObjectSendStream[SessionMessage | Exception],
) -> None:
    try:
        async with source:
            async for message in source:
                data = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                await stdin.send(data.encode("utf-8") + b"\n")
    except _PIPE_ERRORS:
        # The server stopped reading: end the session's read side so no request waits forever.
        await sink.aclose()


async def _read_stderr(name: str, stderr: ByteReceiveStream, tail: deque[str]) -> None:
    pending = b""
    with suppress(*_PIPE_ERRORS):
        async for chunk in stderr:
            *lines, pending = (pending + chunk).split(b"\n")
            if len(pending) > _MAX_STDERR_LINE:
                lines.append(pending)
                pending = b""
            for raw in lines:
                line = raw.decode("utf-8", errors="replace").rstrip()
                if line:
                    tail.append(line)
                    logger.debug("mcp server %s: %s", name, line)
