"""Transcript repair before any model call (SPEC §8.9): pair every tool call with one result,
drop strays and empty replies, merge adjacent same-role messages. Why: providers reject broken
histories with a 400."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from amplifier_agent.core.messages import AssistantMessage, Message, ToolMessage, UserMessage

MISSING_RESULT_CODE = "tool_result_missing"


@dataclass(frozen=True, slots=True)
class RepairReport:
    """What `repair` changed: counts per rule and one human-readable note per change."""

    synthesized: int = 0
    dropped_tool_results: int = 0
    merged: int = 0
    dropped_empty: int = 0
    notes: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.notes)

    def describe(self) -> str:
        """One line for a log: `no changes` or the notes joined with `; `."""
        return "; ".join(self.notes) if self.notes else "no changes"

    def __add__(self, other: RepairReport) -> RepairReport:
        return RepairReport(
            synthesized=self.synthesized + other.synthesized,
            dropped_tool_results=self.dropped_tool_results + other.dropped_tool_results,
            merged=self.merged + other.merged,
            dropped_empty=self.dropped_empty + other.dropped_empty,
            notes=self.notes + other.notes,
        )


def repair(messages: Iterable[Message]) -> tuple[list[Message], RepairReport]:
    """A history every provider accepts, and what was changed to get it.

    Order matters: assistants are merged before calls are paired (so two consecutive assistant
    messages followed by their results pair up), and merged again afterwards because dropping a
    stray result can make two messages of one role adjacent.
    """
    history, report = _drop_empty(list(messages))
    history, merged = _merge_adjacent(history)
    history, paired = _pair_tool_results(history)
    history, merged_again = _merge_adjacent(history)
    return history, report + merged + paired + merged_again


def is_empty_assistant(message: AssistantMessage) -> bool:
    """No text (whitespace counts as none), no thinking, no tool calls."""
    return not message.content.strip() and not message.thinking and not message.tool_calls


def _drop_empty(history: list[Message]) -> tuple[list[Message], RepairReport]:
    kept: list[Message] = []
    notes: list[str] = []
    for index, message in enumerate(history):
        if isinstance(message, AssistantMessage) and is_empty_assistant(message):
            notes.append(f"dropped empty assistant message at {index}")
        else:
            kept.append(message)
    return kept, RepairReport(dropped_empty=len(notes), notes=tuple(notes))


def _merge_adjacent(history: list[Message]) -> tuple[list[Message], RepairReport]:
    merged: list[Message] = []
    notes: list[str] = []
    for message in history:
        previous = merged[-1] if merged else None
        combined = _merge(previous, message) if previous is not None else None
        if combined is None:
            merged.append(message)
            continue
        merged[-1] = combined
        notes.append(f"merged adjacent {message.role} messages")
    return merged, RepairReport(merged=len(notes), notes=tuple(notes))


def _merge(first: Message, second: Message) -> Message | None:
    """The two messages as one, or None when they must stay apart (different roles, tools)."""
    if isinstance(first, UserMessage) and isinstance(second, UserMessage):
        return UserMessage(content=_join(first.content, second.content))
    if isinstance(first, AssistantMessage) and isinstance(second, AssistantMessage):
        return AssistantMessage(
            content=_join(first.content, second.content),
            thinking=first.thinking + second.thinking,
            tool_calls=first.tool_calls + second.tool_calls,
            interrupted=first.interrupted or second.interrupted,
        )
    # Tool messages never merge: each one answers its own call.
    return None


def _join(first: str, second: str) -> str:
    return "\n\n".join(text for text in (first, second) if text.strip())


def _pair_tool_results(history: list[Message]) -> tuple[list[Message], RepairReport]:
    """Keep the first result of each call right after its assistant message, synthesize the
    missing ones after those, and drop results that answer no call of that message."""
    paired: list[Message] = []
    report = RepairReport()
    index = 0
    while index < len(history):
        message = history[index]
        index += 1
        if isinstance(message, ToolMessage):
            report += _dropped(message)
            continue
        paired.append(message)
        if not isinstance(message, AssistantMessage) or not message.tool_calls:
            continue
        end = index
        while end < len(history) and isinstance(history[end], ToolMessage):
            end += 1
        results = [m for m in history[index:end] if isinstance(m, ToolMessage)]
        answers, answer_report = _answers_for(message, results)
        paired.extend(answers)
        report += answer_report
        index = end
    return paired, report


def _answers_for(
    assistant: AssistantMessage, results: list[ToolMessage]
) -> tuple[list[ToolMessage], RepairReport]:
    pending = {call.id for call in assistant.tool_calls}
    answers: list[ToolMessage] = []
    report = RepairReport()
    for result in results:
        if result.tool_call_id in pending:
            pending.discard(result.tool_call_id)
            answers.append(result)
        else:
            report += _dropped(result)
    for call in assistant.tool_calls:
        if call.id in pending:
            pending.discard(call.id)
            answers.append(missing_result(call.id, call.name, host=call.host))
            report += RepairReport(
                synthesized=1,
                notes=(f"added {MISSING_RESULT_CODE} result for call {call.id} ({call.name})",),
            )
    return answers, report


def _dropped(result: ToolMessage) -> RepairReport:
    note = f"dropped tool result {result.tool_call_id} ({result.name}) answering no call"
    return RepairReport(dropped_tool_results=1, notes=(note,))


def missing_result(call_id: str, name: str, *, host: bool) -> ToolMessage:
    """The synthetic error result of a call that never got one.

    A built-in call's result is internal, like the call itself, so the client's view of the
    history stays unchanged.
    """
    return ToolMessage(
        tool_call_id=call_id,
        name=name,
        content=(
            f"Error: {MISSING_RESULT_CODE}: no result was recorded for this call "
            "(the turn ended before it finished)"
        ),
        is_error=True,
        internal=not host,
    )
