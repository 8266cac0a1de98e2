"""Transcript repair (SPEC §8.9): every rule, their interplay, and invariants over random input."""

from __future__ import annotations

import random

from amplifier_agent.core.messages import (
    AssistantMessage,
    Message,
    ThinkingBlock,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from amplifier_agent.store.repair import repair


def call(call_id: str, *, host: bool = False) -> ToolCall:
    return ToolCall(call_id, f"tool_{call_id}", {"k": call_id}, host=host)


def result(call_id: str) -> ToolMessage:
    return ToolMessage(call_id, f"tool_{call_id}", f"out {call_id}")


def test_a_clean_history_is_unchanged() -> None:
    history: list[Message] = [
        UserMessage("hi"),
        AssistantMessage("calling", tool_calls=(call("c1"),)),
        result("c1"),
        AssistantMessage("done"),
        UserMessage("thanks"),
    ]
    repaired, report = repair(history)
    assert repaired == history
    assert not report.changed
    assert report.describe() == "no changes"


def test_unanswered_call_gets_a_synthetic_error_after_the_existing_answers() -> None:
    history: list[Message] = [
        UserMessage("go"),
        AssistantMessage("", tool_calls=(call("c1"), call("c2", host=True), call("c3"))),
        result("c1"),
        UserMessage("next"),
    ]
    repaired, report = repair(history)
    assert repaired[:3] == history[:3]
    missing = repaired[3:5]
    assert [m.tool_call_id for m in missing if isinstance(m, ToolMessage)] == ["c2", "c3"]
    for message, internal in zip(missing, (False, True), strict=True):
        assert isinstance(message, ToolMessage)
        assert message.is_error
        assert message.content.startswith("Error: tool_result_missing: ")
        # A built-in call's synthetic result stays as hidden from the client as the call.
        assert message.internal is internal
    assert repaired[5] == UserMessage("next")
    assert report.synthesized == 2
    assert "c2" in report.describe() and "c3" in report.describe()


def test_unanswered_call_at_the_end_of_an_interrupted_turn() -> None:
    history: list[Message] = [
        UserMessage("go"),
        AssistantMessage("", tool_calls=(call("c1"),), interrupted=True),
    ]
    repaired, report = repair(history)
    assert len(repaired) == 3
    assert isinstance(repaired[2], ToolMessage) and repaired[2].tool_call_id == "c1"
    assert report.synthesized == 1


def test_stray_tool_results_are_dropped() -> None:
    history: list[Message] = [
        UserMessage("go"),
        result("nobody"),
        AssistantMessage("", tool_calls=(call("c1"),)),
        result("c1"),
        result("c1"),  # a duplicate answer
        result("c9"),  # answers no call of this message
        AssistantMessage("done"),
    ]
    repaired, report = repair(history)
    assert repaired == [
        UserMessage("go"),
        AssistantMessage("", tool_calls=(call("c1"),)),
        result("c1"),
        AssistantMessage("done"),
    ]
    assert report.dropped_tool_results == 3


def test_an_answer_to_an_earlier_message_is_not_reused_later() -> None:
    history: list[Message] = [
        UserMessage("go"),
        AssistantMessage("", tool_calls=(call("c1"),)),
        result("c1"),
        AssistantMessage("again", tool_calls=(call("c2"),)),
        result("c1"),
    ]
    repaired, report = repair(history)
    assert [m.tool_call_id for m in repaired if isinstance(m, ToolMessage)] == ["c1", "c2"]
    assert report.dropped_tool_results == 1 and report.synthesized == 1


def test_adjacent_user_messages_merge_with_a_blank_line() -> None:
    repaired, report = repair([UserMessage("one"), UserMessage("two"), UserMessage("three")])
    assert repaired == [UserMessage("one\n\ntwo\n\nthree")]
    assert report.merged == 2


def test_adjacent_assistants_merge_text_thinking_and_calls_then_pair() -> None:
    history: list[Message] = [
        UserMessage("go"),
        AssistantMessage("a", thinking=(ThinkingBlock("t1", "s1"),), tool_calls=(call("c1"),)),
        AssistantMessage("b", thinking=(ThinkingBlock("t2", "s2"),), tool_calls=(call("c2"),)),
        result("c1"),
        result("c2"),
    ]
    repaired, report = repair(history)
    assert repaired == [
        UserMessage("go"),
        AssistantMessage(
            "a\n\nb",
            thinking=(ThinkingBlock("t1", "s1"), ThinkingBlock("t2", "s2")),
            tool_calls=(call("c1"), call("c2")),
        ),
        result("c1"),
        result("c2"),
    ]
    assert report.merged == 1 and report.synthesized == 0 and report.dropped_tool_results == 0


def test_tool_messages_never_merge() -> None:
    history: list[Message] = [
        UserMessage("go"),
        AssistantMessage("", tool_calls=(call("c1"), call("c2"))),
        result("c1"),
        result("c2"),
    ]
    repaired, _ = repair(history)
    assert repaired == history


def test_empty_assistant_is_dropped_and_its_neighbours_merge() -> None:
    history: list[Message] = [UserMessage("a"), AssistantMessage("  "), UserMessage("b")]
    repaired, report = repair(history)
    assert repaired == [UserMessage("a\n\nb")]
    assert report.dropped_empty == 1 and report.merged == 1


def test_thinking_only_assistant_is_not_empty() -> None:
    history: list[Message] = [UserMessage("a"), AssistantMessage("", (ThinkingBlock("hm"),))]
    assert repair(history)[0] == history


def test_dropping_a_stray_can_make_users_adjacent() -> None:
    repaired, _ = repair([UserMessage("a"), result("x"), UserMessage("b")])
    assert repaired == [UserMessage("a\n\nb")]


def test_merge_keeps_the_interrupted_mark() -> None:
    history: list[Message] = [AssistantMessage("part", interrupted=True), AssistantMessage("more")]
    assert repair(history)[0] == [AssistantMessage("part\n\nmore", interrupted=True)]


def random_history(rng: random.Random) -> list[Message]:
    history: list[Message] = []
    for _ in range(rng.randint(0, 12)):
        kind = rng.choice(["user", "assistant", "tool", "empty"])
        if kind == "user":
            history.append(UserMessage(rng.choice(["", "u1", "u2"])))
        elif kind == "assistant":
            calls = tuple(call(f"c{rng.randint(0, 5)}") for _ in range(rng.randint(0, 2)))
            history.append(AssistantMessage(rng.choice(["", "a"]), tool_calls=calls))
        elif kind == "tool":
            history.append(result(f"c{rng.randint(0, 5)}"))
        else:
            history.append(AssistantMessage())
    return history


def assert_valid(history: list[Message]) -> None:
    index = 0
    while index < len(history):
        message = history[index]
        assert not isinstance(message, ToolMessage), f"stray tool result at {index}"
        if index:
            previous = history[index - 1]
            assert not (isinstance(previous, UserMessage) and isinstance(message, UserMessage))
        index += 1
        if isinstance(message, AssistantMessage):
            assert message.content.strip() or message.thinking or message.tool_calls
            wanted = list(dict.fromkeys(c.id for c in message.tool_calls))
            answered = []
            while index < len(history) and isinstance(history[index], ToolMessage):
                answered.append(history[index].tool_call_id)  # type: ignore[union-attr]
                index += 1
            assert sorted(answered) == sorted(wanted)
            if index < len(history):
                assert not isinstance(history[index], AssistantMessage) or wanted


def test_random_histories_come_out_valid_and_repair_is_idempotent() -> None:
    rng = random.Random(20250131)
    for _ in range(500):
        repaired, _ = repair(random_history(rng))
        assert_valid(repaired)
        again, report = repair(repaired)
        assert again == repaired and not report.changed
