"""Running the built-in, MCP and sub-agent tool calls of one model response (SPEC §6.1–6.3).

Every failure — unknown tool, bad arguments, denial, exception — becomes an error result the model
reads (`Error: <code>: <message>`) plus a recoverable `error` event; none reaches the user as text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from amplifier_agent.agent.run import TOOL_CALLS_PER_RESPONSE_LIMIT, AgentRun
from amplifier_agent.core.errors import AmplifierError
from amplifier_agent.core.events import ErrorReported, ToolCompleted, ToolStarted
from amplifier_agent.core.messages import ToolCall, ToolMessage
from amplifier_agent.core.observe import ToolCallInfo
from amplifier_agent.tools.base import Tool, ToolError, ToolResult

log = logging.getLogger(__name__)


async def run_tool_calls(
    run: AgentRun, calls: Sequence[ToolCall], *, over_limit: Sequence[ToolCall] = ()
) -> list[ToolMessage]:
    """Run `calls` in order; calls past the per-response limit are refused, not run."""
    results = [await _run_one(run, call) for call in calls]
    for call in over_limit:
        error = ToolError(
            "too_many_tool_calls",
            f"at most {TOOL_CALLS_PER_RESPONSE_LIMIT} tool calls per response; not run",
        )
        results.append(_error_message(run, call, error))
    return results


async def _run_one(run: AgentRun, call: ToolCall) -> ToolMessage:
    info = ToolCallInfo(call.name, call.id, call.name in run.tools, run.agent_name)
    with run.observer.tool_call(info) as outcome:
        message = await _run_unobserved(run, call)
        outcome.is_error = message.is_error
    return message


async def _run_unobserved(run: AgentRun, call: ToolCall) -> ToolMessage:
    run.emit(ToolStarted(call.id, call.name, dict(call.arguments), run.agent_name))
    started = time.monotonic()
    try:
        result = await _execute(run, call)
    except AmplifierError as error:
        return _error_message(run, call, error, started)
    except Exception as exc:  # the tool sandbox edge: a tool bug must not end the turn
        log.exception("tool %s raised", call.name)
        failure = ToolError("tool_execution_failed", f"{type(exc).__name__}: {exc}")
        return _error_message(run, call, failure, started)
    _emit_completed(run, call, result.content, result.is_error, started)
    return ToolMessage(call.id, call.name, result.content, is_error=result.is_error, internal=True)


async def _execute(run: AgentRun, call: ToolCall) -> ToolResult:
    if call.raw_arguments is not None:
        raise ToolError(
            "invalid_tool_arguments", "the arguments are not valid JSON; send one JSON object"
        )
    tool = run.tools.get(call.name)
    if tool is None:
        available = ", ".join(sorted(run.tools)) or "none"
        raise ToolError("unknown_tool", f"no tool named '{call.name}' (available: {available})")
    subject = tool.subject(run.tool_context, call.arguments)
    if not await _approved(run, tool, subject):
        raise ToolError("approval_denied", f"{tool.name} was not approved: {subject}")
    return await tool.run(run.tool_context, dict(call.arguments))


async def _approved(run: AgentRun, tool: Tool, subject: str | None) -> bool:
    kind = tool.approval_kind
    if kind is None or subject is None:
        return True
    return await run.approval.approve(kind, tool.name, subject)


def _error_message(
    run: AgentRun, call: ToolCall, error: AmplifierError, started: float | None = None
) -> ToolMessage:
    content = f"Error: {error.code}: {error.message}"
    if started is None:  # a refused call was never started: announce it so the pair is whole
        run.emit(ToolStarted(call.id, call.name, dict(call.arguments), run.agent_name))
    run.emit(ErrorReported("tool_execution_failed", f"{call.name}: {content}", recoverable=True))
    _emit_completed(run, call, content, True, started or time.monotonic())
    return ToolMessage(call.id, call.name, content, is_error=True, internal=True)


def _emit_completed(
    run: AgentRun, call: ToolCall, content: str, is_error: bool, started: float
) -> None:
    duration_ms = int((time.monotonic() - started) * 1000)
    run.emit(ToolCompleted(call.id, call.name, content, duration_ms, run.agent_name, is_error))
