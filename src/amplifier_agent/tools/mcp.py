"""MCP client tools: `McpManager` starts stdio servers on first use and exposes their tools.

Each server runs in its own task inside the manager's task group, so any task may list or call
tools, and closing the manager stops every server process.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import deque
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import TaskGroup
from mcp import Client, MCPError
from mcp.types import CallToolResult, Implementation, TextContent
from mcp.types import Tool as RemoteTool
from pydantic import ValidationError

from amplifier_agent import __version__
from amplifier_agent.tools.base import Tool, ToolContext, ToolError, ToolResult
from amplifier_agent.tools.mcp_config import McpServerConfig, load_mcp_config, parse_mcp_servers
from amplifier_agent.tools.mcp_transport import stdio_transport

__all__ = ["McpManager", "McpServerConfig", "exposed_name", "load_mcp_config", "render_result"]

logger = logging.getLogger(__name__)

LIST_TIMEOUT_S = 10.0
MAX_RESULT_CHARS = 65_536
MAX_NAME_CHARS = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_MAX_PAGES = 100
_CALL_ERRORS = (
    MCPError,
    ValidationError,
    TimeoutError,
    OSError,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
)


def exposed_name(server: str, tool: str) -> str:
    """`mcp__<server>__<tool>` in `[A-Za-z0-9_-]`, at most 64 chars (long names end in a hash)."""
    name = f"mcp__{_UNSAFE.sub('_', server)}__{_UNSAFE.sub('_', tool)}"
    if len(name) <= MAX_NAME_CHARS:
        return name
    digest = hashlib.sha256(f"{server}\0{tool}".encode()).hexdigest()[:8]
    return f"{name[: MAX_NAME_CHARS - 9]}_{digest}"


def render_result(result: CallToolResult) -> ToolResult:
    """Text parts joined by newlines (capped), non-text parts named; `isError` carried over."""
    parts: list[str] = []
    for block in result.content:
        parts.append(block.text if isinstance(block, TextContent) else f"[{block.type} content]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    text = "\n".join(parts)
    if len(text) > MAX_RESULT_CHARS:
        note = f"\n[truncated: {len(text)} characters in total]"
        text = text[: MAX_RESULT_CHARS - len(note)] + note
    return ToolResult(text, is_error=result.is_error)


class _Server:
    """Runtime state of one server; the task running it is the only writer."""

    def __init__(self, config: McpServerConfig) -> None:
        self.config = config
        self.client: Client | None = None
        self.tools: tuple[Tool, ...] = ()
        self.ready = anyio.Event()
        self.done = anyio.Event()
        self.scope = anyio.CancelScope()
        self.stderr_tail: deque[str] = deque(maxlen=20)

    async def call(self, tool: str, arguments: dict[str, Any]) -> ToolResult:
        client = self.client
        if client is None:
            raise ToolError(
                "mcp_server_unavailable", f"MCP server {self.config.name} is not running"
            )
        try:
            result = await client.call_tool(tool, arguments)
        except _CALL_ERRORS as exc:
            raise ToolError(
                "mcp_call_failed", f"{tool} on MCP server {self.config.name} failed: {exc}"
            ) from None
        return render_result(result)


class McpManager:
    """The MCP servers of one config. Use as `async with McpManager(config) as mcp:`.

    `await mcp.tools()` starts every server on first use; a server that fails to start or list
    its tools within `list_timeout_s` is logged and contributes none.
    """

    def __init__(
        self, config: Mapping[str, Any], *, list_timeout_s: float = LIST_TIMEOUT_S
    ) -> None:
        self._configs = parse_mcp_servers(config)
        self._list_timeout_s = list_timeout_s
        self._group: TaskGroup | None = None
        self._lock: anyio.Lock | None = None
        self._servers: tuple[_Server, ...] | None = None
        self._closed = False

    async def __aenter__(self) -> McpManager:
        group = anyio.create_task_group()
        await group.__aenter__()
        self._group, self._lock = group, anyio.Lock()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
        if self._group is not None:
            group, self._group = self._group, None
            # Every server task has finished, so the group has nothing left to cancel; leaving it
            # cleanly lets the body's own exception propagate unwrapped.
            await group.__aexit__(None, None, None)

    async def tools(self) -> tuple[Tool, ...]:
        """The tools of every running server, starting the servers on the first call."""
        if self._closed:
            return ()
        await self._start()
        servers = self._servers or ()
        return tuple(tool for server in servers if server.client for tool in server.tools)

    async def aclose(self) -> None:
        """Stop every server and wait until its process is gone; idempotent."""
        self._closed = True
        for server in self._servers or ():
            server.scope.cancel()
        with anyio.CancelScope(shield=True):
            for server in self._servers or ():
                await server.done.wait()

    async def _start(self) -> None:
        if self._group is None or self._lock is None:
            raise RuntimeError("McpManager is used outside `async with`")
        async with self._lock:
            if self._servers is not None:
                return
            # Published before anything starts, so a concurrent aclose() can stop them all.
            servers = self._servers = tuple(_Server(config) for config in self._configs)
            for server in servers:
                self._group.start_soon(self._run, server, name=f"mcp:{server.config.name}")
            with anyio.move_on_after(self._list_timeout_s):
                for server in servers:
                    await server.ready.wait()
            for server in servers:
                if not server.ready.is_set():
                    logger.warning(
                        "MCP server %s did not list its tools within %gs; skipped",
                        server.config.name,
                        self._list_timeout_s,
                    )
                    server.scope.cancel()

    async def _run(self, server: _Server) -> None:
        """Own one server for its whole life: connect, list, then wait to be cancelled."""
        transport = stdio_transport(server.config, server.stderr_tail)
        try:
            with server.scope:
                async with Client(transport, client_info=_CLIENT_INFO) as client:
                    server.tools = await _list_tools(client, server)
                    server.client = client
                    server.ready.set()
                    await anyio.sleep_forever()
        except Exception as exc:
            # A third-party server can fail in any way (spawn, protocol, crash mid-handshake);
            # that must cost only its own tools, never the engine.
            _log_failure(server, exc)
        finally:
            server.client = None
            server.ready.set()
            server.done.set()


_CLIENT_INFO = Implementation(name="amplifier-agent", version=__version__)


async def _list_tools(client: Client, server: _Server) -> tuple[Tool, ...]:
    tools: dict[str, Tool] = {}
    cursor: str | None = None
    for _ in range(_MAX_PAGES):
        page = await client.list_tools(cursor=cursor)
        for remote in page.tools:
            tool = _as_tool(server, remote)
            if tool.name in tools:
                logger.warning("MCP tool name %s is ambiguous; %s skipped", tool.name, remote.name)
                continue
            tools[tool.name] = tool
        cursor = page.next_cursor
        if cursor is None:
            break
    return tuple(tools.values())


def _as_tool(server: _Server, remote: RemoteTool) -> Tool:
    name = exposed_name(server.config.name, remote.name)
    remote_name = remote.name

    async def invoke(ctx: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        return await server.call(remote_name, arguments)

    def subject_of(ctx: ToolContext, arguments: dict[str, Any]) -> str:
        return name

    parameters = {"type": "object", **remote.input_schema}
    parameters.setdefault("properties", {})
    return Tool(
        name=name,
        description=remote.description or remote.title or remote.name,
        parameters=parameters,
        invoke=invoke,
        approval_kind="mcp",
        subject_of=subject_of,
    )


def _log_failure(server: _Server, exc: Exception) -> None:
    detail = "; ".join(server.stderr_tail)
    logger.warning(
        "MCP server %s failed and contributes no tools: %s%s",
        server.config.name,
        _reason(exc),
        f" (stderr: {detail})" if detail else "",
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _reason(exc.exceptions[0])
    return f"{type(exc).__name__}: {exc}"
