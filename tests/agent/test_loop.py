"""The turn loop (§6.1) driven by a scripted provider: a test double of the external model, so the
loop, the tool runner and the approval policy are all real."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from amplifier_agent.agent.approval import ApprovalPolicy
from amplifier_agent.agent.loop import run_loop
from amplifier_agent.agent.run import AgentRun, CallOptions, TurnState
from amplifier_agent.core.errors import AmplifierError, ProviderError
from amplifier_agent.core.events import (
    DisplayEvent,
    ErrorReported,
    ResultDelta,
    ThinkingFinished,
    ThinkingStreamed,
    ToolCompleted,
    ToolStarted,
    UsageReported,
)
from amplifier_agent.core.messages import (
    AssistantMessage,
    Message,
    ThinkingBlock,
    ToolCall,
    ToolMessage,
    ToolSpec,
    UserMessage,
)
from amplifier_agent.core.models import ModelInfo
from amplifier_agent.core.stream import (
    CallDone,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ThinkingDone,
    ToolCallDone,
)
from amplifier_agent.core.usage import Usage
from amplifier_agent.providers.base import ModelRequest
from amplifier_agent.tools.base import Tool, ToolContext, ToolError
from amplifier_agent.tools.schema import function_tool

Step = Sequence[StreamEvent] | BaseException | Callable[[ModelRequest], Sequence[StreamEvent]]


class ScriptedProvider:
    """Answers each model call with the next scripted step and records every request."""

    def __init__(self, *steps: Step, provider_id: str = "scripted") -> None:
        self.steps = list(steps)
        self.requests: list[ModelRequest] = []
        self._id = provider_id

    @property
    def provider_id(self) -> str:
        return self._id

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        self.requests.append(request)
        if not self.steps:
            raise AssertionError("the loop made more model calls than scripted")
        step = self.steps.pop(0)
        if isinstance(step, BaseException):
            raise step
        events = step(request) if callable(step) else step
        for event in events:
            await asyncio.sleep(0)
            yield event

    async def list_models(self) -> list[ModelInfo]:
        return []

    async def aclose(self) -> None:
        return None


def done(usage: Usage | None = None, stop: str = "end_turn", model: str = "m-1") -> CallDone:
    spent = usage or Usage(input_tokens=10, output_tokens=5, cost_usd=None)
    return CallDone(usage=spent, model=model, provider="scripted", stop_reason=stop, duration_ms=7)


def text(reply: str, usage: Usage | None = None) -> list[StreamEvent]:
    return [TextDelta(reply), done(usage)]


def calls(*tool_calls: tuple[str, str, dict[str, Any]], usage: Usage | None = None) -> list[Any]:
    events: list[StreamEvent] = [
        ToolCallDone(ToolCall.from_object(i, n, a)) for i, n, a in tool_calls
    ]
    return [*events, done(usage, stop="tool_use")]


async def shout(ctx: ToolContext, text: str) -> str:
    """Upper-case the text.

    Args:
        text: What to shout.
    """
    return text.upper()


async def touch(ctx: ToolContext, path: str) -> str:
    """Create an empty file.

    Args:
        path: Where.
    """
    (ctx.cwd / path).write_text("")
    return f"created {path}"


async def explode(ctx: ToolContext) -> str:
    """Always raises."""
    raise RuntimeError("kaboom")


SHOUT = function_tool(shout)
TOUCH = function_tool(touch, approval="write", subject="path")
EXPLODE = function_tool(explode)


class Recorder:
    def __init__(self) -> None:
        self.events: list[DisplayEvent] = []
        self.checkpoints: list[tuple[list[Message], bool]] = []

    def emit(self, event: DisplayEvent) -> None:
        self.events.append(event)

    async def checkpoint(self, messages: Sequence[Message], rewrite: bool) -> None:
        self.checkpoints.append((list(messages), rewrite))

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def make_run(
    provider: ScriptedProvider,
    recorder: Recorder,
    cwd: Path,
    *,
    tools: Sequence[Tool] = (SHOUT, TOUCH, EXPLODE),
    approval: ApprovalPolicy | None = None,
    **fields: Any,
) -> AgentRun:
    defaults: dict[str, Any] = {
        "provider_id": "scripted",
        "model": "m-1",
        "system_prompt": "You are a test.",
        "tools": {t.name: t for t in tools},
        "approval": approval or ApprovalPolicy.build("yes"),
        "tool_context": ToolContext(cwd=cwd),
        "emit": recorder.emit,
        "checkpoint": recorder.checkpoint,
    }
    return AgentRun(provider=provider, **{**defaults, **fields})


def new_state(prompt: str = "hi", history: Sequence[Message] = ()) -> TurnState:
    return TurnState(messages=[*history, UserMessage(prompt)], persisted=len(history))


async def test_a_text_reply_ends_the_turn(tmp_path: Path) -> None:
    provider = ScriptedProvider(text("hello there", Usage(10, 5, 2, 1, cost_usd=None)))
    recorder = Recorder()
    state = new_state()

    outcome = await run_loop(make_run(provider, recorder, tmp_path), state)

    assert outcome.reply == "hello there"
    assert outcome.host_calls == ()
    assert outcome.usage == Usage(10, 5, 2, 1, cost_usd=None)
    (request,) = provider.requests
    assert request.model == "m-1"
    assert request.system == "You are a test."
    assert request.messages == (UserMessage("hi"),)
    assert [t.name for t in request.tools] == ["shout", "touch", "explode"]
    assert [type(e) for e in recorder.events] == [ResultDelta, UsageReported]
    usage_event = recorder.of(UsageReported)[0]
    assert (usage_event.model, usage_event.provider, usage_event.llm_duration_ms) == (
        "m-1",
        "scripted",
        7,
    )
    assert state.messages[-1] == AssistantMessage("hello there")
    assert recorder.checkpoints == [([UserMessage("hi"), AssistantMessage("hello there")], False)]


async def test_tool_results_go_back_to_the_model_in_order(tmp_path: Path) -> None:
    provider = ScriptedProvider(
        calls(("c1", "shout", {"text": "a"}), ("c2", "shout", {"text": "b"})),
        text("done"),
    )
    recorder = Recorder()
    state = new_state()

    outcome = await run_loop(make_run(provider, recorder, tmp_path), state)

    assert outcome.reply == "done"
    second = provider.requests[1].messages
    assert second[1] == AssistantMessage(
        tool_calls=(ToolCall("c1", "shout", {"text": "a"}), ToolCall("c2", "shout", {"text": "b"}))
    )
    assert second[2:] == (
        ToolMessage("c1", "shout", "A", internal=True),
        ToolMessage("c2", "shout", "B", internal=True),
    )
    kinds = [type(e).__name__ for e in recorder.events]
    assert kinds == [
        "UsageReported",
        "ToolStarted",
        "ToolCompleted",
        "ToolStarted",
        "ToolCompleted",
        "ResultDelta",
        "UsageReported",
    ]
    assert recorder.of(ToolStarted)[0] == ToolStarted("c1", "shout", {"text": "a"}, None)
    # A checkpoint after the results, one at the end; together they hold the whole turn.
    stored = [m for batch, _ in recorder.checkpoints for m in batch]
    assert stored == state.messages


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (("c1", "nope", {}), "unknown_tool"),
        (("c1", "shout", {"_raw_arguments": "{not json"}), "invalid_tool_arguments"),
        (("c1", "shout", {"txt": "missing the right key"}), "invalid_tool_arguments"),
        (("c1", "explode", {}), "tool_execution_failed"),
    ],
)
async def test_tool_failures_become_error_results(
    tmp_path: Path, call: tuple[str, str, dict[str, Any]], code: str
) -> None:
    provider = ScriptedProvider(calls(call), text("recovered"))
    recorder = Recorder()

    outcome = await run_loop(make_run(provider, recorder, tmp_path), new_state())

    assert outcome.reply == "recovered"
    result = provider.requests[1].messages[-1]
    assert isinstance(result, ToolMessage)
    assert result.is_error
    assert result.content.startswith(f"Error: {code}: ")
    (error,) = recorder.of(ErrorReported)
    assert (error.code, error.recoverable) == ("tool_execution_failed", True)
    (completed,) = recorder.of(ToolCompleted)
    assert completed.is_error and completed.result == result.content
    assert len(recorder.of(ToolStarted)) == 1
    assert "".join(e.text for e in recorder.of(ResultDelta)) == "recovered"


async def test_arguments_that_are_not_json_are_refused_and_started_with_no_args(
    tmp_path: Path,
) -> None:
    bad = ToolCall("c1", "shout", {}, raw_arguments='{"text": ')
    provider = ScriptedProvider([ToolCallDone(bad), done(stop="tool_use")], text("ok"))
    recorder = Recorder()

    await run_loop(make_run(provider, recorder, tmp_path), new_state())

    assert recorder.of(ToolStarted) == [ToolStarted("c1", "shout", {}, None)]
    result = provider.requests[1].messages[-1]
    assert isinstance(result, ToolMessage)
    assert result.content == (
        "Error: invalid_tool_arguments: the arguments are not valid JSON; send one JSON object"
    )
    replayed = provider.requests[1].messages[-2]
    assert isinstance(replayed, AssistantMessage) and replayed.tool_calls == (bad,)


async def test_unknown_tool_lists_the_available_ones(tmp_path: Path) -> None:
    provider = ScriptedProvider(calls(("c1", "nope", {})), text("ok"))

    await run_loop(make_run(provider, Recorder(), tmp_path), new_state())

    result = provider.requests[1].messages[-1]
    assert isinstance(result, ToolMessage)
    assert "explode, shout, touch" in result.content


async def test_an_exception_names_its_type(tmp_path: Path) -> None:
    provider = ScriptedProvider(calls(("c1", "explode", {})), text("ok"))

    await run_loop(make_run(provider, Recorder(), tmp_path), new_state())

    result = provider.requests[1].messages[-1]
    assert isinstance(result, ToolMessage)
    assert result.content == "Error: tool_execution_failed: RuntimeError: kaboom"


async def test_denied_calls_do_not_run(tmp_path: Path) -> None:
    provider = ScriptedProvider(calls(("c1", "touch", {"path": "f.txt"})), text("ok"))
    recorder = Recorder()
    run = make_run(provider, recorder, tmp_path, approval=ApprovalPolicy.build("no"))

    await run_loop(run, new_state())

    assert not (tmp_path / "f.txt").exists()
    result = provider.requests[1].messages[-1]
    assert isinstance(result, ToolMessage)
    assert result.content == "Error: approval_denied: touch was not approved: f.txt"


async def test_approved_calls_run(tmp_path: Path) -> None:
    provider = ScriptedProvider(calls(("c1", "touch", {"path": "f.txt"})), text("ok"))

    await run_loop(make_run(provider, Recorder(), tmp_path), new_state())

    assert (tmp_path / "f.txt").exists()


async def test_calls_past_sixteen_are_refused(tmp_path: Path) -> None:
    many = [(f"c{i}", "shout", {"text": str(i)}) for i in range(18)]
    provider = ScriptedProvider(calls(*many), text("ok"))
    recorder = Recorder()

    await run_loop(make_run(provider, recorder, tmp_path), new_state())

    results = [m for m in provider.requests[1].messages if isinstance(m, ToolMessage)]
    assert [r.tool_call_id for r in results] == [f"c{i}" for i in range(18)]
    assert all(not r.is_error for r in results[:16])
    assert all(r.content.startswith("Error: too_many_tool_calls: ") for r in results[16:])
    assert len(recorder.of(ToolStarted)) == 18 and len(recorder.of(ErrorReported)) == 2
    refused = [
        type(e).__name__
        for e in recorder.events
        if getattr(e, "tool_call_id", "") == "c17" or isinstance(e, ErrorReported)
    ][-3:]
    assert refused == ["ToolStarted", "ErrorReported", "ToolCompleted"]


async def test_the_model_call_limit_is_a_runtime_error(tmp_path: Path) -> None:
    provider = ScriptedProvider(*(calls((f"c{i}", "shout", {"text": "x"})) for i in range(3)))
    state = new_state()

    with pytest.raises(AmplifierError) as raised:
        await run_loop(make_run(provider, Recorder(), tmp_path, max_model_calls=3), state)

    assert raised.value.code == "runtime"
    assert "3" in raised.value.message
    assert len(provider.requests) == 3
    assert state.model_calls == 3


async def test_provider_errors_end_the_turn(tmp_path: Path) -> None:
    provider = ScriptedProvider(ProviderError("upstream_auth_error", "bad key", status=401))

    with pytest.raises(ProviderError):
        await run_loop(make_run(provider, Recorder(), tmp_path), new_state())


async def test_host_calls_are_handed_back(tmp_path: Path) -> None:
    host = ToolSpec("shout", "a client-side shout")
    provider = ScriptedProvider(
        calls(("c1", "shout", {"text": "client"}), ("c2", "touch", {"path": "g"}))
    )
    recorder = Recorder()
    run = make_run(provider, recorder, tmp_path, host_tools=(host,))
    state = new_state()

    outcome = await run_loop(run, state)

    assert outcome.host_calls == (ToolCall("c1", "shout", {"text": "client"}, host=True),)
    stored = state.messages[1]
    assert isinstance(stored, AssistantMessage)
    assert [c.host for c in stored.tool_calls] == [True, False]  # the transcript says who ran it
    assert [t.name for t in provider.requests[0].tools] == ["touch", "explode", "shout"]
    assert provider.requests[0].tools[-1] == host
    assert (tmp_path / "g").exists()  # the built-in call still ran
    assert [type(m) for m in state.messages] == [UserMessage, AssistantMessage, ToolMessage]


async def test_options_and_tool_choice_apply_to_the_first_root_call(tmp_path: Path) -> None:
    options = CallOptions(
        max_tokens=99, temperature=0.5, top_p=0.9, stop=("X",), tool_choice="required"
    )
    provider = ScriptedProvider(calls(("c1", "shout", {"text": "x"})), text("ok"))

    await run_loop(make_run(provider, Recorder(), tmp_path, options=options), new_state())

    first, second = provider.requests
    assert first.tool_choice == "required" and second.tool_choice is None
    assert (second.max_tokens, second.temperature, second.top_p, second.stop) == (
        99,
        0.5,
        0.9,
        ("X",),
    )


async def test_thinking_is_shown_and_kept_with_its_signature(tmp_path: Path) -> None:
    block = ThinkingBlock("hmm", "sig")
    provider = ScriptedProvider(
        [ThinkingDelta("h"), ThinkingDelta("mm"), ThinkingDone(block), TextDelta("ok"), done()]
    )
    recorder = Recorder()
    state = new_state()

    await run_loop(make_run(provider, recorder, tmp_path), state)

    assert recorder.of(ThinkingStreamed) == [ThinkingStreamed("h"), ThinkingStreamed("mm")]
    assert recorder.of(ThinkingFinished) == [ThinkingFinished("hmm")]
    assert state.messages[-1] == AssistantMessage("ok", thinking=(block,))


async def test_a_subagent_shows_no_text_and_tags_its_events(tmp_path: Path) -> None:
    thinking: list[StreamEvent] = [ThinkingDelta("t"), ThinkingDone(ThinkingBlock("t"))]
    provider = ScriptedProvider([*thinking, *calls(("c1", "shout", {"text": "a"}))], text("secret"))
    recorder = Recorder()
    run = make_run(provider, recorder, tmp_path, agent_name="builder", checkpoint=None)

    outcome = await run_loop(run, new_state())

    assert outcome.reply == "secret"
    assert not recorder.of(ResultDelta) and not recorder.of(ThinkingStreamed)
    assert not recorder.of(ThinkingFinished)
    assert {e.agent_name for e in recorder.of(UsageReported)} == {"builder"}
    assert recorder.of(ToolStarted)[0].agent_name == "builder"
    assert recorder.of(ToolCompleted)[0].agent_name == "builder"
    assert provider.requests[0].tool_choice is None


async def test_session_cost_total_adds_this_turn_to_the_stored_total(tmp_path: Path) -> None:
    from decimal import Decimal

    priced = Usage(10, 5, cost_usd=Decimal("0.25"))
    provider = ScriptedProvider(
        calls(("c1", "shout", {"text": "a"}), usage=priced), text("ok", priced)
    )
    recorder = Recorder()
    state = TurnState([UserMessage("hi")], persisted=0, session_cost_base=Decimal("1.5"))

    await run_loop(make_run(provider, recorder, tmp_path), state)

    totals = [e.session_cost_total_usd for e in recorder.of(UsageReported)]
    assert totals == [Decimal("1.75"), Decimal("2.00")]


async def test_cancellation_keeps_the_partial_text(tmp_path: Path) -> None:
    release = asyncio.Event()

    class Hanging(ScriptedProvider):
        async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
            self.requests.append(request)
            yield TextDelta("half an ")
            yield TextDelta("answer")
            release.set()
            await asyncio.sleep(3600)
            yield done()

    state = new_state()
    task = asyncio.create_task(run_loop(make_run(Hanging(), Recorder(), tmp_path), state))
    await asyncio.wait_for(release.wait(), 5)
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert state.partial_text == "half an answer"
    assert state.model_calls == 1


async def test_a_history_is_sent_before_the_new_message(tmp_path: Path) -> None:
    history = [UserMessage("before"), AssistantMessage("earlier reply")]
    provider = ScriptedProvider(text("ok"))
    recorder = Recorder()
    state = new_state("now", history)

    await run_loop(make_run(provider, recorder, tmp_path), state)

    assert provider.requests[0].messages == (*history, UserMessage("now"))
    ((batch, rewrite),) = recorder.checkpoints
    assert batch == [UserMessage("now"), AssistantMessage("ok")] and rewrite is False


def test_tool_errors_carry_their_code() -> None:
    error = ToolError("no_match", "nothing")
    assert (error.code, error.message) == ("no_match", "nothing")
