"""What one agent run needs (`AgentRun`) and what it accumulates while running (`TurnState`).

An `AgentRun` is immutable and built per turn by the composition root; sub-agents get their own.
`TurnState` is the one mutable record of progress, so a cancelled or failed turn can still be
persisted exactly as far as it got.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from amplifier_agent.agent.approval import ApprovalPolicy
from amplifier_agent.core.events import DisplayEvent
from amplifier_agent.core.messages import Message, ToolCall, ToolSpec
from amplifier_agent.core.observe import NO_OBSERVER, TurnObserver
from amplifier_agent.core.usage import Usage
from amplifier_agent.providers.base import Provider, ToolChoice
from amplifier_agent.tools.base import Tool, ToolContext

ROOT_MODEL_CALL_LIMIT = 64
SUBAGENT_MODEL_CALL_LIMIT = 32
TOOL_CALLS_PER_RESPONSE_LIMIT = 16
DEFAULT_CONTEXT_WINDOW = 128_000


@dataclass(frozen=True, slots=True)
class CallOptions:
    """Sampling parameters a face forwards to every root model call of the turn."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    tool_choice: ToolChoice | None = None


@dataclass(frozen=True, slots=True, weakref_slot=True)
class AgentRun:
    provider: Provider
    provider_id: str
    model: str
    system_prompt: str
    tools: Mapping[str, Tool]
    approval: ApprovalPolicy
    tool_context: ToolContext
    emit: Callable[[DisplayEvent], None]
    host_tools: tuple[ToolSpec, ...] = ()
    options: CallOptions = field(default_factory=CallOptions)
    context_window: int = DEFAULT_CONTEXT_WINDOW
    max_model_calls: int = ROOT_MODEL_CALL_LIMIT
    agent_name: str | None = None
    session_id: str | None = None
    #: Persists messages: `(new_messages, False)` appends, `(all_messages, True)` rewrites.
    checkpoint: Callable[[Sequence[Message], bool], Awaitable[None]] | None = None
    #: Watches model and tool calls for metrics and traces; sub-agents share the turn's.
    observer: TurnObserver = NO_OBSERVER

    @property
    def is_subagent(self) -> bool:
        return self.agent_name is not None

    def tool_specs(self) -> tuple[ToolSpec, ...]:
        """Built-in/MCP tools minus those a host tool shadows, then the host tools."""
        host_names = {spec.name for spec in self.host_tools}
        own = tuple(t.spec() for name, t in self.tools.items() if name not in host_names)
        return own + self.host_tools


@dataclass
class TurnState:
    """Progress of one turn: the conversation so far and what it has spent.

    `persisted` counts the leading messages already stored; a compaction replaces the history, so
    it sets `needs_rewrite` and the next checkpoint rewrites the transcript.
    """

    messages: list[Message]
    persisted: int
    usage: Usage = field(default_factory=Usage)
    #: The text streamed so far by the model call under way, as received (joined when read:
    #: appending to one string would copy it on every delta).
    partial_pieces: list[str] = field(default_factory=list)
    model_calls: int = 0
    last_input_tokens: int | None = None
    messages_at_last_report: int = 0
    session_cost_base: Decimal | None = Decimal(0)
    needs_rewrite: bool = False
    compactions: int = 0
    #: Estimated input tokens of the model call under way (0 once it reported its usage).
    in_flight_input: int = 0
    usage_estimated: bool = False

    @property
    def partial_text(self) -> str:
        return "".join(self.partial_pieces)

    @partial_text.setter
    def partial_text(self, text: str) -> None:
        self.partial_pieces = [text] if text else []

    def add_usage(self, usage: Usage) -> None:
        self.usage = self.usage + usage

    def interrupted_call_usage(self) -> Usage | None:
        """An estimate for a model call cut off before it reported usage: its request's input
        and the text received so far (ceil(bytes/4) each); None when no call was under way."""
        if not self.in_flight_input:
            return None
        output = -(-len(self.partial_text.encode()) // 4)
        return Usage(input_tokens=self.in_flight_input, output_tokens=output, cost_usd=None)

    def add_estimate(self, usage: Usage) -> None:
        self.usage = self.usage + usage
        self.usage_estimated = True
        self.in_flight_input = 0

    def session_cost_total(self) -> Decimal | None:
        if self.session_cost_base is None or self.usage.cost_usd is None:
            return None
        return self.session_cost_base + self.usage.cost_usd


@dataclass(frozen=True, slots=True)
class TurnOutcome:
    """How a turn ended: a reply, or host tool calls the client must run (`host_calls`)."""

    reply: str
    usage: Usage
    host_calls: tuple[ToolCall, ...] = ()
