"""Replays dispatch conformance fixtures (SPEC §10.5) against `Dispatcher` and reports every
assertion.

A fixture is JSON: `name`, `description`, optional `host_config` (the engine's, validated like a
file), optional `upstream.replies` (the scripted provider's answers, in order), optional `files`
(name → text or JSON, written into the work directory first) and `steps`, each one of
`{"send": <JSON-RPC message>}`, `{"expect": <assertion>}` or `{"restart": true}` (a new
dispatcher over the same state, as a host process restart would give). `$NAME` placeholders in
string values are replaced first (`$WORKDIR`, `$FAKE_URL`, `$PYTHON` and whatever the caller
adds); an unknown one fails the fixture. Assertions see everything observed up to their step;
matching rules are in `testkit.conformance_checks`.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from amplifier_agent import engine
from amplifier_agent.core.errors import AmplifierError
from amplifier_agent.wire.dispatch import Dispatcher
from amplifier_agent.wire.framing import decode_line, encode
from testkit.conformance_checks import ASSERTION_KINDS, Observed, evaluate

LANGUAGE = "engine"
_PLACEHOLDER_RE = re.compile(r"\$([A-Z][A-Z0-9_]*)")
_FILE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ScriptedUpstream(Protocol):
    """The fake provider a fixture scripts: its base URL and a way to queue its replies."""

    @property
    def url(self) -> str: ...

    def script(self, replies: Sequence[Mapping[str, Any]]) -> None: ...


class FixtureError(Exception):
    """The fixture itself cannot be replayed (bad placeholder, file name or host_config)."""


@dataclass(frozen=True, slots=True)
class AssertionResult:
    kind: str
    passed: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class FixtureReport:
    """The §10.5 report of one replay; it passes only with assertions, all of them passing."""

    fixture: str
    assertions: tuple[AssertionResult, ...]
    language: str = LANGUAGE

    @property
    def passed(self) -> bool:
        return bool(self.assertions) and all(a.passed for a in self.assertions)

    def to_json(self) -> dict[str, Any]:
        return {
            "fixture": self.fixture,
            "language": self.language,
            "passed": self.passed,
            "assertions": [a.to_json() for a in self.assertions],
        }


def load_fixtures(directory: Path) -> list[dict[str, Any]]:
    """Every `*.json` fixture of a directory, in file-name order."""
    return [json.loads(path.read_text("utf-8")) for path in sorted(directory.glob("*.json"))]


def substitute(value: Any, placeholders: Mapping[str, str]) -> Any:
    """`value` with `$NAME` replaced in every string; keys are left alone."""
    if isinstance(value, str):
        return _PLACEHOLDER_RE.sub(lambda m: _placeholder(m.group(1), placeholders), value)
    if isinstance(value, list):
        return [substitute(item, placeholders) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, placeholders) for key, item in value.items()}
    return value


def _placeholder(name: str, placeholders: Mapping[str, str]) -> str:
    if name not in placeholders:
        raise FixtureError(f"unknown placeholder ${name}")
    return placeholders[name]


@dataclass
class _Replay:
    fixture: Mapping[str, Any]
    workdir: Path
    host_config: engine.HostConfig
    step_timeout_s: float
    observed: Observed = field(default_factory=Observed)
    results: list[AssertionResult] = field(default_factory=list)

    def new_engine(self) -> Dispatcher:
        return Dispatcher(
            self.host_config, notify=self.observed.notifications.append, cwd=self.workdir
        )

    async def run(self) -> None:
        steps = self.fixture.get("steps")
        if not isinstance(steps, list) or not steps:
            raise FixtureError("steps must be a non-empty array")
        agent = self.new_engine()
        for index, step in enumerate(steps):
            if not isinstance(step, dict) or len(step) != 1:
                raise FixtureError(f"steps[{index}] must be an object with exactly one key")
            if "send" in step:
                await self._send(agent, step["send"])
            elif "expect" in step:
                self.results.append(_checked(step["expect"], self.observed))
            elif step.get("restart") is True:
                agent = self.new_engine()
            else:
                raise FixtureError(f"steps[{index}]: unknown step {sorted(step)}")

    async def _send(self, agent: Dispatcher, message: Any) -> None:
        """Send through NDJSON framing, as a host would: a raw string is one line as-is."""
        line = message if isinstance(message, str) else encode(message)
        decoded = decode_line(line)
        if decoded is None:
            return
        self.observed.record_request(decoded)
        async with asyncio.timeout(self.step_timeout_s):
            response = await agent.handle(decoded)
        if response is not None:
            self.observed.record_response(decode_line(encode(response)) or response)


def _checked(assertion: Any, observed: Observed) -> AssertionResult:
    if not isinstance(assertion, dict) or assertion.get("kind") not in ASSERTION_KINDS:
        kind = assertion.get("kind") if isinstance(assertion, dict) else None
        return AssertionResult(str(kind), False, f"unknown assertion kind {kind!r}")
    passed, detail = evaluate(assertion, observed)
    return AssertionResult(assertion["kind"], passed, detail)


async def replay_fixture(
    fixture: Mapping[str, Any],
    *,
    workdir: Path,
    upstream: ScriptedUpstream | None = None,
    placeholders: Mapping[str, str] | None = None,
    step_timeout_s: float = 60.0,
    observed: Observed | None = None,
) -> FixtureReport:
    """Replay one fixture and report it; a replay that cannot finish fails with kind `replay`.

    `observed`, when given, receives every request, response and notification of the replay,
    so a caller can check them beyond the fixture's own assertions (e.g. against schemas).
    """
    name = str(fixture.get("name", "?"))
    replay: _Replay | None = None
    try:
        replay = _prepare(fixture, workdir, upstream, placeholders or {}, step_timeout_s)
        if observed is not None:
            replay.observed = observed
        await replay.run()
    except (FixtureError, AmplifierError, OSError, TimeoutError) as exc:
        done = tuple(replay.results) if replay else ()
        detail = f"{type(exc).__name__}: {exc}"
        return FixtureReport(name, (*done, AssertionResult("replay", False, detail)))
    if not replay.results:
        return FixtureReport(name, (AssertionResult("replay", False, "no assertions"),))
    return FixtureReport(name, tuple(replay.results))


def _prepare(
    fixture: Mapping[str, Any],
    workdir: Path,
    upstream: ScriptedUpstream | None,
    extra: Mapping[str, str],
    step_timeout_s: float,
) -> _Replay:
    values = {"WORKDIR": str(workdir), "PYTHON": sys.executable, **extra}
    if upstream is not None:
        values["FAKE_URL"] = upstream.url
    resolved: dict[str, Any] = substitute(dict(fixture), values)
    _write_files(resolved.get("files", {}), workdir)
    replies = (resolved.get("upstream") or {}).get("replies", [])
    if replies:
        if upstream is None:
            raise FixtureError("the fixture scripts an upstream but none was given")
        upstream.script(replies)
    host_config = engine.parse_host_config(resolved.get("host_config"))
    return _Replay(resolved, workdir, host_config, step_timeout_s)


def _write_files(files: Any, workdir: Path) -> None:
    if not isinstance(files, dict):
        raise FixtureError("files must be an object")
    for name, content in files.items():
        if not _FILE_NAME_RE.fullmatch(name):
            raise FixtureError(f"file name {name!r} must be a plain name inside the work directory")
        text = content if isinstance(content, str) else json.dumps(content)
        (workdir / name).write_text(text, "utf-8")


__all__ = [
    "LANGUAGE",
    "AssertionResult",
    "FixtureError",
    "FixtureReport",
    "ScriptedUpstream",
    "load_fixtures",
    "replay_fixture",
    "substitute",
]
