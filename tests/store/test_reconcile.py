"""Client-wins reconciliation of a stored transcript with an HTTP client's history (SPEC §8.9)."""

from __future__ import annotations

from amplifier_agent.core.messages import (
    AssistantMessage,
    Message,
    ThinkingBlock,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from amplifier_agent.store.reconcile import reconcile

BASH = ToolCall("b1", "bash", {"command": "ls"})
BROWSER = ToolCall("h1", "open_browser", {"url": "https://a.example"}, host=True)


def client_call(call: ToolCall, **arguments: object) -> ToolCall:
    """The same call as a client echoes it back (always a host call)."""
    return ToolCall(call.id, call.name, dict(arguments or call.arguments), host=True)


def test_an_empty_store_takes_the_whole_client_history() -> None:
    client: list[Message] = [UserMessage("hi"), AssistantMessage("hello")]
    result = reconcile([], client)
    assert (result.history, result.appended, result.diverged) == (client, client, False)


def test_a_client_history_extending_the_store_is_appended() -> None:
    stored: list[Message] = [UserMessage("hi"), AssistantMessage("hello")]
    client: list[Message] = [UserMessage("hi"), AssistantMessage("hello"), UserMessage("more")]
    result = reconcile(stored, client)
    assert result.history == [*stored, UserMessage("more")]
    assert all(a is b for a, b in zip(result.history, stored, strict=False))
    assert (result.appended, result.diverged) == ([UserMessage("more")], False)


def test_an_identical_history_appends_nothing() -> None:
    stored: list[Message] = [UserMessage("hi"), AssistantMessage("hello")]
    result = reconcile(stored, list(stored))
    assert (result.history, result.appended, result.diverged) == (stored, [], False)


def test_whitespace_and_thinking_do_not_count_as_divergence() -> None:
    stored: list[Message] = [
        UserMessage("hi"),
        AssistantMessage("hello", thinking=(ThinkingBlock("secret plan", "sig"),)),
    ]
    client: list[Message] = [UserMessage(" hi\n"), AssistantMessage("hello\n\n")]
    assert not reconcile(stored, client).diverged


def test_a_diverging_assistant_text_replaces_the_store_from_there() -> None:
    stored: list[Message] = [
        UserMessage("hi"),
        AssistantMessage("hello"),
        UserMessage("more"),
        AssistantMessage("sure"),
    ]
    client: list[Message] = [UserMessage("hi"), AssistantMessage("edited"), UserMessage("next")]
    result = reconcile(stored, client)
    assert result.history == client
    assert result.history[0] is stored[0]
    assert result.appended == client[1:] and result.diverged


def test_a_client_that_dropped_the_last_exchange_diverges() -> None:
    stored: list[Message] = [
        UserMessage("hi"),
        AssistantMessage("hello"),
        UserMessage("more"),
        AssistantMessage("sure"),
    ]
    client: list[Message] = [UserMessage("hi"), AssistantMessage("hello")]
    result = reconcile(stored, client)
    assert result.history == stored[:2] and result.appended == [] and result.diverged


def test_a_role_mismatch_diverges_at_once() -> None:
    stored: list[Message] = [UserMessage("hi"), AssistantMessage("hello")]
    client: list[Message] = [AssistantMessage("hi")]
    result = reconcile(stored, client)
    assert result.history == client and result.diverged


def test_assistant_messages_split_by_internal_steps_match_one_streamed_message() -> None:
    stored: list[Message] = [
        UserMessage("find configs"),
        AssistantMessage("Looking. ", tool_calls=(BASH,)),
        ToolMessage("b1", "bash", "a.json", internal=True),
        AssistantMessage("", tool_calls=(BASH,)),
        ToolMessage("b1", "bash", "b.json", internal=True),
        AssistantMessage("Found two."),
    ]
    client: list[Message] = [
        UserMessage("find configs"),
        AssistantMessage("Looking. Found two."),
        UserMessage("thanks"),
    ]
    result = reconcile(stored, client)
    assert result.history == [*stored, UserMessage("thanks")]
    assert not result.diverged


def test_a_divergence_inside_a_merged_run_drops_the_whole_run() -> None:
    stored: list[Message] = [
        UserMessage("find configs"),
        AssistantMessage("Looking. ", tool_calls=(BASH,)),
        ToolMessage("b1", "bash", "a.json", internal=True),
        AssistantMessage("Found one."),
    ]
    client: list[Message] = [UserMessage("find configs"), AssistantMessage("Looking. Nothing.")]
    result = reconcile(stored, client)
    assert result.history == [stored[0], client[1]] and result.diverged


def test_internal_steps_before_the_first_divergence_are_kept() -> None:
    stored: list[Message] = [
        UserMessage("go"),
        AssistantMessage("", tool_calls=(BASH,)),
        ToolMessage("b1", "bash", "out", internal=True),
        AssistantMessage("done"),
        UserMessage("again"),
        AssistantMessage("old answer"),
    ]
    client: list[Message] = [UserMessage("go"), AssistantMessage("done"), UserMessage("changed")]
    result = reconcile(stored, client)
    assert result.history == [*stored[:4], UserMessage("changed")] and result.diverged


def test_host_calls_and_their_results_match_by_id_name_and_arguments() -> None:
    stored: list[Message] = [
        UserMessage("open it"),
        AssistantMessage("Opening.", tool_calls=(BASH, BROWSER)),
        ToolMessage("b1", "bash", "ok", internal=True),
        ToolMessage("h1", "open_browser", "opened"),
    ]
    client: list[Message] = [
        UserMessage("open it"),
        AssistantMessage("Opening.", tool_calls=(client_call(BROWSER),)),
        ToolMessage("h1", "", "opened"),
        UserMessage("thanks"),
    ]
    result = reconcile(stored, client)
    assert result.history == [*stored, UserMessage("thanks")] and not result.diverged


def test_changed_host_call_arguments_or_results_diverge() -> None:
    stored: list[Message] = [
        UserMessage("open it"),
        AssistantMessage("", tool_calls=(BROWSER,)),
        ToolMessage("h1", "open_browser", "opened"),
    ]
    other_url = [
        UserMessage("open it"),
        AssistantMessage("", tool_calls=(client_call(BROWSER, url="https://b.example"),)),
    ]
    other_result = [
        UserMessage("open it"),
        AssistantMessage("", tool_calls=(client_call(BROWSER),)),
        ToolMessage("h1", "", "failed"),
    ]
    assert reconcile(stored, other_url).history == other_url
    diverged = reconcile(stored, other_result)
    assert diverged.history == [*stored[:2], other_result[2]] and diverged.diverged


def test_host_calls_with_different_undecodable_arguments_diverge() -> None:
    raw = ToolCall("h1", "open_browser", {}, host=True, raw_arguments='{"url": ')
    stored: list[Message] = [UserMessage("open it"), AssistantMessage("", tool_calls=(raw,))]
    same = [UserMessage("open it"), AssistantMessage("", tool_calls=(raw,))]
    other = ToolCall("h1", "open_browser", {}, host=True, raw_arguments="{oops")
    changed = [UserMessage("open it"), AssistantMessage("", tool_calls=(other,))]
    assert not reconcile(stored, same).diverged
    assert reconcile(stored, changed).history == changed


def test_an_interrupted_partial_answer_the_client_never_kept_is_dropped() -> None:
    stored: list[Message] = [UserMessage("go"), AssistantMessage("w0 w1", interrupted=True)]
    client: list[Message] = [UserMessage("go"), AssistantMessage("w0 w1 w2"), UserMessage("x")]
    result = reconcile(stored, client)
    assert result.history == client and result.diverged
