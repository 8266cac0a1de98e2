"""Context compaction (SPEC §6.6): summarise old messages when a request nears the window.

Token counts are estimated as ceil(bytes / 4) on top of the provider's last reported input count,
which is accurate enough to stay under the limit without a tokenizer per provider.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import orjson

from amplifier_agent.agent.run import AgentRun, TurnState
from amplifier_agent.core.errors import AmplifierError, ProviderError
from amplifier_agent.core.events import Progress, UsageReported
from amplifier_agent.core.messages import Message, ToolMessage, UserMessage
from amplifier_agent.core.stream import CallDone, TextDelta
from amplifier_agent.providers.base import ModelRequest

log = logging.getLogger(__name__)

TRIGGER_FRACTION = 0.8
KEEP_FRACTION = 0.4
FALLBACK_FRACTION = 0.6
SUMMARY_MAX_TOKENS = 2048
SUMMARY_SYSTEM = (
    "You summarise the earlier part of a conversation between a user and an AI agent so the agent "
    "can continue without it. Keep every fact, decision, file path, command, result and open task "
    "the agent will need; drop pleasantries. Answer with the summary only."
)


def estimate_tokens(messages: Sequence[Message], system: str = "") -> int:
    size = len(system.encode()) + sum(_message_bytes(m) for m in messages)
    return math.ceil(size / 4)


def _message_bytes(message: Message) -> int:
    if isinstance(message, UserMessage):
        return len(message.content.encode()) + 16
    if isinstance(message, ToolMessage):
        return len(message.content.encode()) + len(message.tool_call_id) + 32
    calls = sum(
        len(c.name) + len(json.dumps(c.as_object())) + len(c.id) for c in message.tool_calls
    )
    thinking = sum(len(b.text.encode()) + len(b.signature) for b in message.thinking)
    return len(message.content.encode()) + calls + thinking + 16


def fixed_tokens(run: AgentRun) -> int:
    """What every request carries that compaction cannot shrink: system prompt and tool specs."""
    tools = sum(_schema_chars(s.parameters) + len(s.description) for s in run.tool_specs())
    return estimate_tokens((), run.system_prompt) + math.ceil(tools / 4)


#: `len(json.dumps(schema))` by the schema's compact encoding: every request of a server carries
#: the same schemas, and the stdlib encoder costs many times what orjson does.
_SCHEMA_CHARS: dict[bytes, int] = {}
_SCHEMA_CHARS_LIMIT = 1024


def _schema_chars(parameters: Mapping[str, Any]) -> int:
    try:
        key = orjson.dumps(parameters)
    except TypeError:
        return len(json.dumps(parameters))
    chars = _SCHEMA_CHARS.get(key)
    if chars is None:
        if len(_SCHEMA_CHARS) >= _SCHEMA_CHARS_LIMIT:
            _SCHEMA_CHARS.clear()
        chars = _SCHEMA_CHARS[key] = len(json.dumps(parameters))
    return chars


def request_estimate(run: AgentRun, state: TurnState) -> int:
    """Estimated input tokens of the next request."""
    if state.last_input_tokens is None or state.needs_rewrite:
        return fixed_tokens(run) + estimate_tokens(state.messages)
    added = state.messages[state.messages_at_last_report :]
    return state.last_input_tokens + estimate_tokens(added)


async def compact_if_needed(run: AgentRun, state: TurnState) -> None:
    before = request_estimate(run, state)
    if before <= TRIGGER_FRACTION * run.context_window:
        return
    keep_from = _keep_start(state.messages, run, KEEP_FRACTION)
    if not keep_from:
        _fail_if_overflowing(run, state)
        return
    summary = await _summarise(run, state, state.messages[:keep_from])
    if summary is not None:
        removed = keep_from
        new_messages = _prefix_first_user(
            state.messages[keep_from:],
            f"<conversation_summary>{summary}</conversation_summary>\n\n",
        )
    else:
        removed, new_messages = _drop_oldest(run, state.messages)
    _replace_history(state, new_messages)
    after = request_estimate(run, state)
    run.emit(Progress(f"compacted context: {removed} messages ({before} -> {after} tokens)"))


def _user_starts(messages: Sequence[Message]) -> list[int]:
    return [i for i, m in enumerate(messages) if isinstance(m, UserMessage)]


def _keep_start(messages: Sequence[Message], run: AgentRun, fraction: float) -> int | None:
    """The earliest user-message index whose suffix fits `fraction` of the window; starting at a
    user message keeps every tool call with its results."""
    budget = fraction * run.context_window - fixed_tokens(run)
    starts = _user_starts(messages)
    for index in starts:
        if estimate_tokens(messages[index:]) <= budget:
            return index
    return starts[-1] if starts else None


def _fail_if_overflowing(run: AgentRun, state: TurnState) -> None:
    starts = _user_starts(state.messages)
    newest = state.messages[starts[-1] :] if starts else state.messages
    if fixed_tokens(run) + estimate_tokens(newest[:1]) > run.context_window:
        raise AmplifierError(
            "the system prompt, tools and the newest user message alone exceed the context "
            f"window ({run.context_window} tokens)",
            code="runtime",
        )


async def _summarise(run: AgentRun, state: TurnState, old: Sequence[Message]) -> str | None:
    transcript = "\n\n".join(_render(m) for m in old)
    request = ModelRequest(
        model=run.model,
        messages=(UserMessage(f"Summarise this conversation:\n\n{transcript}"),),
        system=SUMMARY_SYSTEM,
        max_tokens=SUMMARY_MAX_TOKENS,
    )
    parts: list[str] = []
    try:
        async for event in run.provider.stream(request):
            if isinstance(event, TextDelta):
                parts.append(event.text)
            elif isinstance(event, CallDone):
                state.add_usage(event.usage)
                run.emit(
                    UsageReported(
                        event.usage,
                        event.model,
                        event.provider,
                        event.duration_ms,
                        state.session_cost_total(),
                        run.agent_name,
                    )
                )
    except ProviderError as error:
        log.warning("compaction summary failed, dropping oldest messages instead: %s", error)
        return None
    summary = "".join(parts).strip()
    return summary or None


def _render(message: Message) -> str:
    if isinstance(message, UserMessage):
        return f"[user]\n{message.content}"
    if isinstance(message, ToolMessage):
        return f"[tool result {message.name}]\n{message.content[:4000]}"
    calls = "".join(
        f"\n[calls {c.name} {json.dumps(c.as_object())[:2000]}]" for c in message.tool_calls
    )
    return f"[assistant]\n{message.content}{calls}"


def _prefix_first_user(messages: Sequence[Message], prefix: str) -> list[Message]:
    result = list(messages)
    for index, message in enumerate(result):
        if isinstance(message, UserMessage):
            result[index] = replace(message, content=prefix + message.content)
            break
    return result


def _drop_oldest(run: AgentRun, messages: list[Message]) -> tuple[int, list[Message]]:
    """The history without its oldest messages (whole exchanges) and how many were dropped."""
    keep_from = _keep_start(messages, run, FALLBACK_FRACTION) or 0
    note = f"[{keep_from} earlier messages were removed to fit the context window]\n\n"
    return keep_from, _prefix_first_user(messages[keep_from:], note)


def _replace_history(state: TurnState, messages: list[Message]) -> None:
    state.messages[:] = messages
    state.needs_rewrite = True
    state.last_input_tokens = None
    state.compactions += 1


__all__ = ["compact_if_needed", "estimate_tokens", "fixed_tokens", "request_estimate"]
