"""Replays process fixtures (conformance/fixtures/process) and persistent-lifecycle fixtures
(conformance/fixtures/stdio) against the fake engine and turns what the wrapper did into an
observation and a §10.5 report."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from amplifier_agent_py import AgentError, spawn_agent

REPO = Path(__file__).resolve().parents[3]
FIXTURE_DIR = REPO / "conformance" / "fixtures" / "process"
STDIO_FIXTURE_DIR = REPO / "conformance" / "fixtures" / "stdio"
FAKE_ENGINE = REPO / "conformance" / "fake-engine" / "bin" / "amplifier-agent"
REPORTS_VAR = "AMPLIFIER_CONFORMANCE_REPORTS"
_ENGINE_VARS = (
    "AMPLIFIER_AGENT_BIN",
    "AMPLIFIER_FAKE_ENGINE_FIXTURE",
    "AMPLIFIER_FAKE_ENGINE_PYTHON",
)

_OPTION_NAMES = {
    "sessionId": "session_id",
    "resume": "resume",
    "allowProtocolSkew": "allow_protocol_skew",
    "displayMode": "display_mode",
    "approval": "approval",
    "timeoutMs": "timeout_ms",
    "lifecycle": "lifecycle",
}


def fixture_paths() -> list[Path]:
    return sorted(FIXTURE_DIR.glob("*.json")) + sorted(STDIO_FIXTURE_DIR.glob("*.json"))


def camel(name: str) -> str:
    return re.sub(r"_([a-z])", lambda match: match.group(1).upper(), name)


def wire_names(event: Mapping[str, Any]) -> dict[str, Any]:
    """Python events use snake_case; fixtures and the TypeScript wrapper use camelCase."""
    named = {camel(key): value for key, value in event.items()}
    info = named.get("engineInfo")
    if isinstance(info, Mapping):
        named["engineInfo"] = {camel(key): value for key, value in info.items()}
    return named


def error_record(error: AgentError) -> dict[str, Any]:
    return wire_names({k: v for k, v in error.to_event().items() if k != "type"})


async def observe(fixture_path: Path) -> dict[str, Any]:
    """Run one fixture through `spawn_agent` + `submit` with the fake engine as the binary."""
    fixture = json.loads(fixture_path.read_text())
    saved = {name: os.environ.get(name) for name in _ENGINE_VARS}
    os.environ.update(
        {
            "AMPLIFIER_AGENT_BIN": str(FAKE_ENGINE),
            "AMPLIFIER_FAKE_ENGINE_FIXTURE": str(fixture_path),
            "AMPLIFIER_FAKE_ENGINE_PYTHON": sys.executable,
        }
    )
    try:
        return await _observe(fixture)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


async def _observe(fixture: dict[str, Any]) -> dict[str, Any]:
    options = {_OPTION_NAMES[k]: v for k, v in fixture["options"].items() if k in _OPTION_NAMES}
    on_event: list[dict[str, Any]] = []
    if fixture["options"].get("onEvent"):
        options["display"] = {"on_event": lambda event: on_event.append(wire_names(event))}
    observation: dict[str, Any] = {"spawn_error": None, "events": [], "on_event": on_event}
    try:
        handle = await spawn_agent(**options)
    except AgentError as error:
        observation["spawn_error"] = error_record(error)
        return observation
    try:
        for prompt in fixture.get("prompts") or [fixture["prompt"]]:
            async for event in handle.submit(prompt):
                if event["type"] != "activity":  # timing-dependent, never in an expectation
                    observation["events"].append(wire_names(event))
    finally:
        await handle.close()
    return observation


def matches(expected: Any, actual: Any, path: str = "") -> str | None:
    """None when `actual` satisfies `expected` (objects: subset; `{"$absent": true}`: key
    missing; everything else: equality), else a description of the first difference."""
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return f"{path or '.'}: expected an object, got {actual!r}"
        for key, want in expected.items():
            where = f"{path}.{key}"
            if isinstance(want, Mapping) and want.get("$absent") is True:
                if key in actual:
                    return f"{where}: expected absent, got {actual[key]!r}"
                continue
            if key not in actual:
                return f"{where}: missing"
            problem = matches(want, actual[key], where)
            if problem:
                return problem
        return None
    return None if expected == actual else f"{path or '.'}: expected {expected!r}, got {actual!r}"


def _check(kind: str, problem: str | None, ok_detail: str) -> dict[str, Any]:
    return {"kind": kind, "passed": problem is None, "detail": problem or ok_detail}


def _sequence_assertions(label: str, expected: list[Any], actual: list[Any]) -> list[Any]:
    want = [event["type"] for event in expected]
    got = [event["type"] for event in actual]
    problem = None if want == got else f"expected {want}, got {got}"
    checks = [_check(f"{label}_types", problem, f"{got}")]
    for index, event in enumerate(expected):
        if index >= len(actual):
            checks.append(_check(f"{label}_fields", f"{label}[{index}]: missing", ""))
            continue
        problem = matches(event, actual[index], f"{label}[{index}]")
        checks.append(_check(f"{label}_fields", problem, f"{label}[{index}] matches"))
    return checks


def _turns(kinds: list[str]) -> list[list[str]]:
    """Event types cut into turns: each turn starts with its `init`."""
    turns: list[list[str]] = []
    for kind in kinds:
        if kind == "init" or not turns:
            turns.append([])
        turns[-1].append(kind)
    return turns


def _terminal_assertion(observation: Mapping[str, Any]) -> dict[str, Any]:
    """Every turn ends with exactly one result or error event, and it comes last."""
    if observation["spawn_error"] is not None:
        return _check("single_terminal_event", None, "spawn failed: no turn")
    kinds = [event["type"] for event in observation["events"]]
    for turn in _turns(kinds) or [[]]:
        closing = [k for k in turn if k in ("result", "error")]
        if not (len(closing) == 1 and turn and turn[-1] == closing[0]):
            return _check("single_terminal_event", f"events were {kinds}", "")
    return _check("single_terminal_event", None, "one per turn, last")


def evaluate(fixture: Mapping[str, Any], observation: Mapping[str, Any]) -> list[dict[str, Any]]:
    expected = fixture["expected"]
    want_spawn, got_spawn = expected["spawn_error"], observation["spawn_error"]
    if want_spawn is None:
        problem = None if got_spawn is None else f"spawn raised {got_spawn}"
    else:
        problem = "spawn succeeded" if got_spawn is None else matches(want_spawn, got_spawn)
    checks = [_check("spawn_outcome", problem, "as expected")]
    checks += _sequence_assertions("events", expected["events"], observation["events"])
    checks += _sequence_assertions(
        "on_event", expected.get("on_event", []), observation["on_event"]
    )
    checks.append(_terminal_assertion(observation))
    return checks


def report(fixture: Mapping[str, Any], observation: Mapping[str, Any]) -> dict[str, Any]:
    assertions = evaluate(fixture, observation)
    return {
        "fixture": fixture["name"],
        "language": "python",
        "passed": all(a["passed"] for a in assertions),
        "assertions": assertions,
    }
