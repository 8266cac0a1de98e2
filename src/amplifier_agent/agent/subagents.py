"""Packaged sub-agent definitions (markdown with frontmatter) and the pure rules of delegation:
which agent a name means, which model a child runs on, and the child's session id."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

from amplifier_agent.agent.routing import Matrix, ModelChoice, UsableProvider, resolve_role
from amplifier_agent.agent.skills import FrontmatterError, split_frontmatter
from amplifier_agent.core.catalog import ROLES
from amplifier_agent.core.errors import AmplifierError

#: The `delegate` agent name that reuses the parent's own prompt and model.
SELF_AGENT = "self"
EPHEMERAL_PARENT = "ephemeral"


@dataclass(frozen=True, slots=True)
class AgentDefinition:
    """One sub-agent: `model_roles` are tried in order in the routing matrix."""

    name: str
    description: str
    model_roles: tuple[str, ...]
    system_prompt: str


def load_agents(*, directory: Traversable | None = None) -> dict[str, AgentDefinition]:
    """Every packaged agent by name (from `directory`, default the packaged `agents/`).

    A definition that cannot be read or parsed is `bundle_load_failed`: it is shipped data.
    """
    if directory is None:
        return dict(_packaged_agents())
    return _read_agents(directory)


@cache
def _packaged_agents() -> tuple[tuple[str, AgentDefinition], ...]:
    """The shipped definitions never change while the process runs: read them once."""
    return tuple(_read_agents(files("amplifier_agent.agent") / "agents").items())


def _read_agents(root: Traversable) -> dict[str, AgentDefinition]:
    agents: dict[str, AgentDefinition] = {}
    try:
        sources = sorted((e for e in root.iterdir() if e.name.endswith(".md")), key=_name)
        for source in sources:
            agent = parse_agent(source.read_text(encoding="utf-8"))
            agents[agent.name] = agent
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise AmplifierError(
            f"packaged agent definitions are unreadable: {exc}", code="bundle_load_failed"
        ) from exc
    return agents


def _name(entry: Traversable) -> str:
    return entry.name


def parse_agent(text: str) -> AgentDefinition:
    """An agent from its markdown; raises ValueError when a field is missing or wrong."""
    fields, body = split_frontmatter(text)
    name, description = fields.get("name"), fields.get("description")
    if not isinstance(name, str) or not name:
        raise FrontmatterError("`name` is missing")
    if not isinstance(description, str) or not description:
        raise FrontmatterError(f"agent {name!r}: `description` is missing")
    roles = fields.get("model_role", ())
    roles = (roles,) if isinstance(roles, str) else roles
    unknown = [role for role in roles if role not in ROLES]
    if not roles or unknown:
        raise FrontmatterError(f"agent {name!r}: `model_role` must list roles from {ROLES}")
    if not body:
        raise FrontmatterError(f"agent {name!r}: the system prompt (body) is empty")
    return AgentDefinition(name, description, tuple(roles), body)


def find_agent(agents: Mapping[str, AgentDefinition], name: str) -> AgentDefinition:
    """The agent called `name`; an unknown name is an error listing the valid ones."""
    agent = agents.get(name)
    if agent is None:
        valid = ", ".join([*sorted(agents), SELF_AGENT])
        raise AmplifierError(
            f"unknown agent {name!r} (valid: {valid})", code="tool_execution_failed"
        )
    return agent


def child_model(
    agent: AgentDefinition,
    matrix: Matrix,
    usable: Sequence[UsableProvider],
    parent_choice: ModelChoice,
) -> ModelChoice:
    """The first of the agent's roles that resolves in the matrix, else the parent's model."""
    for role in agent.model_roles:
        choice = resolve_role(matrix, role, usable)
        if choice is not None:
            return choice
    return parent_choice


def child_session_id(parent_session_id: str | None, agent: str, k: int) -> str:
    """`<parentSessionId|ephemeral>_<agent>-<k>`; `k` counts delegations within the parent."""
    return f"{parent_session_id or EPHEMERAL_PARENT}_{agent}-{k}"
