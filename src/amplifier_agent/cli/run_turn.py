"""`run`'s one turn over the engine service: what the command line decided goes in, a
`TurnReport` comes out (SPEC §7.2 steps 6-8)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from amplifier_agent import engine
from amplifier_agent.core.errors import AmplifierError
from amplifier_agent.core.events import DisplayEvent
from amplifier_agent.core.messages import UserMessage

#: Receives each display event with the session id ("" without one) and the turn id.
EventSink = Callable[[DisplayEvent, str, str], None]


@dataclass(frozen=True, slots=True)
class RunCommand:
    """`run`'s arguments, checked: the prompt, where and in which session the turn runs, who
    approves its tool calls, and the provider selected from host_config."""

    prompt: str
    cwd: Path
    workspace: str
    session_id: str | None
    session_mode: engine.SessionMode
    approval_mode: str
    asker: engine.Asker | None
    host_config: engine.HostConfig
    provider_module: str
    correlation_id: str
    argv: Sequence[str]

    def service(self, store: engine.StoreBackend | None = None) -> engine.EngineService:
        return engine.EngineService(
            self.host_config, workspace=self.workspace, cwd=self.cwd, store=store
        )

    def policy(self) -> engine.TurnPolicy:
        return engine.TurnPolicy("cli", approval=self.approval_mode, asker=self.asker)

    def request(self) -> engine.TurnRequest:
        return engine.TurnRequest(
            request_id=self.correlation_id,
            prompt=UserMessage(self.prompt),
            session_id=self.session_id,
        )


async def run_turn(
    command: RunCommand, service: engine.EngineService, sink: EventSink
) -> engine.TurnReport:
    """The turn, persisted; one that cannot start (its provider's credential, its session) is
    still reported and gets its ledger line."""
    policy, request = command.policy(), command.request()
    try:
        request = dataclasses.replace(request, model=service.active_model(command.provider_module))
        if command.session_id is not None:
            opened = service.open_session(command.session_id, command.session_mode)
            request = dataclasses.replace(request, session=opened, turn_id=opened.next_turn_id())
        ids = (command.session_id or "", request.turn_id or "turn-1")
        return await service.run_turn(request, lambda event: sink(event, *ids), policy)
    except AmplifierError as error:
        unstarted = dataclasses.replace(request, turn_id=None)
        return service.unstarted_turn(unstarted, policy, command.provider_module, error)
    finally:
        await service.aclose()


def failure_report(
    command: RunCommand, service: engine.EngineService, exc: BaseException
) -> engine.TurnReport:
    """The report of a turn that died of an unexpected exception outside the turn runner, or
    whose store could not be opened."""
    request = dataclasses.replace(command.request(), turn_id="")
    error = exc if isinstance(exc, AmplifierError) else engine.internal_error(exc)
    return service.unstarted_turn(request, command.policy(), command.provider_module, error)
