"""The turn loop (SPEC §6.1): compact if needed → stream a model call → run tools → repeat.

Faces never see provider stream events: this module turns them into display events through
`AgentRun.emit`, and records everything in `TurnState`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import assert_never

from amplifier_agent.agent.compaction import compact_if_needed, estimate_tokens
from amplifier_agent.agent.run import (
    TOOL_CALLS_PER_RESPONSE_LIMIT,
    AgentRun,
    TurnOutcome,
    TurnState,
)
from amplifier_agent.agent.tool_calls import run_tool_calls
from amplifier_agent.core.errors import AmplifierError
from amplifier_agent.core.events import (
    ResultDelta,
    ThinkingFinished,
    ThinkingStreamed,
    UsageReported,
)
from amplifier_agent.core.messages import AssistantMessage, ThinkingBlock, ToolCall
from amplifier_agent.core.observe import ModelCallInfo
from amplifier_agent.core.stream import (
    CallDone,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ThinkingDone,
    ToolCallDone,
)
from amplifier_agent.providers.base import ModelRequest


async def run_loop(run: AgentRun, state: TurnState) -> TurnOutcome:
    """Drive model calls and tool calls until the model answers without calling a built-in."""
    while True:
        if state.model_calls >= run.max_model_calls:
            raise AmplifierError(
                f"model call limit reached ({run.max_model_calls} calls in one turn)",
                code="runtime",
            )
        await compact_if_needed(run, state)
        reply = _mark_host_calls(run, await stream_model_call(run, state))
        state.messages.append(reply)
        calls = reply.tool_calls
        if not calls:
            await _checkpoint(run, state)
            return TurnOutcome(reply=reply.content, usage=state.usage)
        host_calls = await _run_calls(run, state, calls)
        await _checkpoint(run, state)
        if host_calls:
            return TurnOutcome(reply=reply.content, usage=state.usage, host_calls=host_calls)


def _mark_host_calls(run: AgentRun, reply: AssistantMessage) -> AssistantMessage:
    """Flag the calls the client will run (`host`), so the stored transcript says who ran what.

    A host call whose arguments are not valid JSON is not delegated: the model gets an error.
    """
    host_names = {spec.name for spec in run.host_tools}
    if not host_names or not reply.tool_calls:
        return reply
    calls = tuple(
        replace(c, host=c.name in host_names and c.raw_arguments is None) for c in reply.tool_calls
    )
    return replace(reply, tool_calls=calls)


async def _run_calls(
    run: AgentRun, state: TurnState, calls: tuple[ToolCall, ...]
) -> tuple[ToolCall, ...]:
    """Run the built-in calls (in order) and return the host calls to hand to the client."""
    allowed = calls[:TOOL_CALLS_PER_RESPONSE_LIMIT]
    host_calls = tuple(c for c in allowed if c.host)
    local_calls = tuple(c for c in allowed if c not in host_calls)
    results = await run_tool_calls(
        run, local_calls, over_limit=calls[TOOL_CALLS_PER_RESPONSE_LIMIT:]
    )
    state.messages.extend(results)
    await _checkpoint(run, state)
    return host_calls


async def _checkpoint(run: AgentRun, state: TurnState) -> None:
    """Persist what is new since the last checkpoint (everything, after a compaction)."""
    if run.checkpoint is None:
        return
    if state.needs_rewrite:
        await run.checkpoint(list(state.messages), True)
        state.needs_rewrite = False
    elif len(state.messages) > state.persisted:
        await run.checkpoint(state.messages[state.persisted :], False)
    state.persisted = len(state.messages)


def build_request(run: AgentRun, state: TurnState) -> ModelRequest:
    first_root_call = state.model_calls == 0 and not run.is_subagent
    options = run.options
    return ModelRequest(
        model=run.model,
        messages=tuple(state.messages),
        system=run.system_prompt,
        tools=run.tool_specs(),
        tool_choice=options.tool_choice if first_root_call else None,
        max_tokens=options.max_tokens,
        temperature=options.temperature,
        top_p=options.top_p,
        stop=options.stop,
    )


async def stream_model_call(run: AgentRun, state: TurnState) -> AssistantMessage:
    """One streamed model call; emits deltas (root only) and one usage event."""
    request = build_request(run, state)
    state.model_calls += 1
    state.partial_text = ""
    state.in_flight_input = estimate_tokens(request.messages, request.system)
    thinking: list[ThinkingBlock] = []
    calls: list[ToolCall] = []
    info = ModelCallInfo(run.provider_id, run.model, run.agent_name)
    async for event in run.observer.model_call(info, run.provider.stream(request)):
        _absorb(run, state, event, thinking, calls)
    text, state.partial_text = state.partial_text, ""
    return AssistantMessage(content=text, thinking=tuple(thinking), tool_calls=tuple(calls))


def _absorb(
    run: AgentRun,
    state: TurnState,
    event: StreamEvent,
    thinking: list[ThinkingBlock],
    calls: list[ToolCall],
) -> None:
    """Fold one stream event into the reply being built; sub-agents never show text."""
    visible = not run.is_subagent
    match event:
        case TextDelta(text=text):
            state.partial_pieces.append(text)
            if visible:
                run.emit(ResultDelta(text))
        case ThinkingDelta(text=text):
            if visible:
                run.emit(ThinkingStreamed(text))
        case ThinkingDone(block=block):
            thinking.append(block)
            if visible:
                run.emit(ThinkingFinished(block.text))
        case ToolCallDone(call=call):
            calls.append(call)
        case CallDone():
            _record_usage(run, state, event)
        case _:
            assert_never(event)


def _record_usage(run: AgentRun, state: TurnState, done: CallDone) -> None:
    state.add_usage(done.usage)
    state.in_flight_input = 0
    state.last_input_tokens = done.usage.prompt_tokens
    state.messages_at_last_report = len(state.messages)
    run.emit(
        UsageReported(
            usage=done.usage,
            model=done.model,
            provider=done.provider,
            llm_duration_ms=done.duration_ms,
            session_cost_total_usd=state.session_cost_total(),
            agent_name=run.agent_name,
        )
    )
