"""The agent-level tools: `delegate` (an in-process child loop, SPEC §6.4) and `load_skill` (§6.8).

A child gets a fresh context, the parent's cwd, approval policy and built-ins minus `delegate`
(no host tools, no grandchildren). Its text never reaches the parent's output; its tool and usage
events carry its name, and its usage counts in the parent's turn.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from amplifier_agent.agent.loop import run_loop
from amplifier_agent.agent.prompt import environment_section
from amplifier_agent.agent.routing import Matrix, ModelChoice, UsableProvider
from amplifier_agent.agent.run import SUBAGENT_MODEL_CALL_LIMIT, AgentRun, TurnState
from amplifier_agent.agent.skills import SkillCatalog
from amplifier_agent.agent.subagents import (
    SELF_AGENT,
    AgentDefinition,
    child_model,
    child_session_id,
    find_agent,
)
from amplifier_agent.core.errors import AmplifierError
from amplifier_agent.core.messages import UserMessage
from amplifier_agent.core.usage import Usage
from amplifier_agent.providers.base import Provider
from amplifier_agent.tools.base import TodoList, Tool, ToolContext, ToolError
from amplifier_agent.tools.schema import function_tool

DELEGATE_TOOL = "delegate"
LOAD_SKILL_TOOL = "load_skill"


@dataclass
class Delegation:
    """What `delegate` needs from the turn that offers it.

    `parent` is filled in once the parent's `AgentRun` exists (it offers this very tool);
    `add_usage` folds a child's spending into the parent turn; `provider_for` builds (or reuses)
    the adapter serving a model choice.
    """

    agents: Mapping[str, AgentDefinition]
    matrix: Matrix
    usable: Sequence[UsableProvider]
    parent_choice: ModelChoice
    provider_for: Callable[[ModelChoice], Provider]
    add_usage: Callable[[Usage], None]
    session_cost_base: Callable[[], Decimal | None]
    parent_session_id: str | None = None
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _parent: weakref.ref[AgentRun] | None = field(default=None, init=False, repr=False)

    @property
    def parent(self) -> AgentRun | None:
        """The turn's run while it runs. Held weakly: the run's tools hold this delegation, so a
        strong reference would leave every finished turn to the cyclic collector instead of
        freeing it at once."""
        return None if self._parent is None else self._parent()

    @parent.setter
    def parent(self, run: AgentRun | None) -> None:
        self._parent = None if run is None else weakref.ref(run)

    def describe_agents(self) -> str:
        return "\n".join(f"- {a.name}: {a.description}" for a in self.agents.values())


def delegate_tool(delegation: Delegation) -> Tool:
    async def delegate(ctx: ToolContext, agent: str, task: str) -> str:
        """Hand a self-contained task to a sub-agent and get its final report back.

        Args:
            agent: The sub-agent's name, or "self" for a copy of yourself with a fresh context.
            task: Everything the sub-agent needs to know: the goal, relevant paths, constraints.
        """
        return await run_child(delegation, agent, task)

    tool = function_tool(delegate, name=DELEGATE_TOOL)
    description = f"{tool.description}\n\nAgents:\n{delegation.describe_agents()}\n- self: you"
    return Tool(tool.name, description, tool.parameters, tool.invoke)


async def run_child(delegation: Delegation, agent_name: str, task: str) -> str:
    parent = delegation.parent
    if parent is None:
        raise ToolError("tool_execution_failed", "delegate is not wired to a parent turn")
    child = _child_run(delegation, parent, agent_name)
    state = TurnState(
        messages=[UserMessage(task)], persisted=0, session_cost_base=delegation.session_cost_base()
    )
    try:
        outcome = await run_loop(child, state)
    except AmplifierError as error:
        raise ToolError(
            error.code, f"sub-agent {child.agent_name} failed: {error.message}"
        ) from error
    finally:
        delegation.add_usage(state.usage)
    return outcome.reply or "(the sub-agent finished without a report)"


def _child_run(delegation: Delegation, parent: AgentRun, agent_name: str) -> AgentRun:
    if agent_name == SELF_AGENT:
        choice, system_prompt = delegation.parent_choice, parent.system_prompt
    else:
        definition = find_agent(delegation.agents, agent_name)
        choice = child_model(
            definition, delegation.matrix, delegation.usable, delegation.parent_choice
        )
        system_prompt = (
            f"{definition.system_prompt.strip()}\n\n{environment_section(parent.tool_context.cwd)}"
        )
    k = next(delegation.counter)
    tools = {name: t for name, t in parent.tools.items() if name != DELEGATE_TOOL}
    return AgentRun(
        provider=delegation.provider_for(choice),
        provider_id=choice.provider_id,
        model=choice.model,
        system_prompt=system_prompt,
        tools=tools,
        approval=parent.approval,
        tool_context=ToolContext(
            cwd=parent.tool_context.cwd, processes=parent.tool_context.processes, todos=TodoList()
        ),
        emit=parent.emit,
        observer=parent.observer,
        context_window=parent.context_window,
        max_model_calls=SUBAGENT_MODEL_CALL_LIMIT,
        agent_name=agent_name,
        session_id=child_session_id(delegation.parent_session_id, agent_name, k),
    )


def load_skill_tool(catalog: SkillCatalog) -> Tool:
    async def load_skill(ctx: ToolContext, name: str) -> str:
        """Load a skill's instructions by name (the skills are listed in your instructions).

        Args:
            name: The skill's name.
        """
        try:
            return catalog.load(name)
        except AmplifierError as error:
            raise ToolError(error.code, error.message) from error

    return function_tool(load_skill, name=LOAD_SKILL_TOOL)
