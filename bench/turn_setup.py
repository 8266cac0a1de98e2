"""Per-request cost of the HTTP face's engine around the model call, in-process, as JSON.

    python bench/turn_setup.py [--requests 300] [--warmup 30] [--skills 8] [--session]

Builds an `EngineService` from a real host config (an `openai` provider with a static model list)
whose provider answers instantly, then sends `--requests` chat turns one after another. For each
turn it measures, on the event-loop thread, the wall time and CPU time (`time.thread_time`):

- `setup`: from `EngineService.chat_turn` being called to the provider's `stream` being entered
  (session, skills, system prompt, tools, options: everything before the model call);
- `record`: from the end of the model's stream to `chat_turn` returning (transcript tail,
  metadata, ledger line).

The project directory holds `--skills` skills so discovery has real work to do. CPU time of the
loop thread is what limits a busy server; work moved to another thread is not counted in it,
which is the point of moving it. `process_cpu_us_per_request` is the whole process's CPU time
(every thread, user and system) over the measured requests, divided by their count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from amplifier_agent.core.messages import AssistantMessage, Message, UserMessage
from amplifier_agent.core.models import ModelInfo
from amplifier_agent.core.stream import CallDone, StreamEvent, TextDelta
from amplifier_agent.core.usage import Usage
from amplifier_agent.engine import (
    EngineService,
    LoadedProviders,
    ProviderPool,
    TurnRequest,
    load_host_config,
    load_providers,
)
from amplifier_agent.providers.base import ModelRequest

MODEL = "gpt-5"
#: Like a chat client: each session grows for this many turns, its full history re-sent each time.
TURNS_PER_SESSION = 10
#: Longer than the window in which the server distrusts freshly changed skill files.
SETTLE_S = 2.5


class Clock:
    """Marks taken on the loop thread: (wall seconds, thread CPU seconds)."""

    def __init__(self) -> None:
        self.marks: dict[str, tuple[float, float]] = {}

    def mark(self, name: str) -> None:
        self.marks[name] = (time.perf_counter(), time.thread_time())

    def span_us(self, start: str, end: str) -> tuple[float, float]:
        (w0, c0), (w1, c1) = self.marks[start], self.marks[end]
        return (w1 - w0) * 1e6, (c1 - c0) * 1e6


class InstantProvider:
    """Answers every call at once with one short text and a usage report."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    @property
    def provider_id(self) -> str:
        return "openai"

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        self.clock.mark("model_start")
        yield TextDelta("ok")
        yield CallDone(Usage(12, 1, cost_usd=None), MODEL, "openai", "end_turn", 0)
        self.clock.mark("model_end")

    async def list_models(self) -> list[ModelInfo]:
        return [ModelInfo(MODEL, MODEL, 0)]

    async def aclose(self) -> None:
        return None


class InstantPool(ProviderPool):
    def __init__(self, entries: Mapping[str, tuple[str, Mapping[str, Any]]], clock: Clock) -> None:
        super().__init__(entries)
        self.provider = InstantProvider(clock)

    def get(self, provider_id: str) -> InstantProvider:  # type: ignore[override]
        return self.provider


def write_skills(root: Path, count: int) -> None:
    """`count` skills, left alone for a few seconds like skills installed long before the server
    started (a server re-reads skill files changed in the last two seconds on every request)."""
    for index in range(count):
        directory = root / f"skill-{index}"
        directory.mkdir(parents=True)
        (directory / "SKILL.md").write_text(
            f"---\nname: skill-{index}\ndescription: Bench skill number {index}.\n---\n\nBody.\n"
        )
    time.sleep(SETTLE_S)


async def build_engine(workdir: Path, clock: Clock) -> EngineService:
    config_path = workdir / "host_config.json"
    document = {"providers": {"openai": {"config": {"base_url": "http://127.0.0.1:9/v1"}}}}
    document["providers"]["openai"]["config"]["models"] = [MODEL]  # type: ignore[index]
    config_path.write_text(json.dumps(document))
    _, config = load_host_config(str(config_path))
    loaded, problems = await load_providers(config)
    if loaded is None:
        raise SystemExit(f"providers did not load: {problems}")
    await loaded.pool.aclose()
    entries = {e.id: (e.module, e.config) for e in config.providers or ()}
    instant = LoadedProviders(InstantPool(entries, clock), loaded.registry, loaded.listings)
    return EngineService(config, instant, "bench", workdir)


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 1),
        "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 1),
        "mean": round(statistics.fmean(ordered), 1),
        "min": round(ordered[0], 1),
    }


async def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    clock = Clock()
    engine = await build_engine(workdir, clock)
    spans: dict[str, list[float]] = {k: [] for k in ("setup", "setup_cpu", "record", "record_cpu")}
    history: list[Message] = []
    process_cpu = 0.0
    try:
        for index in range(args.warmup + args.requests):
            if index == args.warmup:
                process_cpu = time.process_time()
            if index % TURNS_PER_SESSION == 0:
                history = []
            prompt = UserMessage(f"hello {index}")
            turn = TurnRequest(
                model=MODEL,
                request_id=f"req-{index}",
                history=tuple(history),
                prompt=prompt,
                session_id=f"bench-{index // TURNS_PER_SESSION}" if args.session else None,
            )
            clock.mark("start")
            report = await engine.chat_turn(turn, lambda _event: None)
            clock.mark("end")
            if report.error is not None:
                raise SystemExit(f"turn failed: {report.error.code}: {report.error.message}")
            history += [prompt, AssistantMessage(report.reply)]
            if index < args.warmup:
                continue
            wall, cpu = clock.span_us("start", "model_start")
            spans["setup"].append(wall)
            spans["setup_cpu"].append(cpu)
            wall, cpu = clock.span_us("model_end", "end")
            spans["record"].append(wall)
            spans["record_cpu"].append(cpu)
        process_cpu = time.process_time() - process_cpu
    finally:
        await engine.aclose()
    return {
        "requests": args.requests,
        "skills": args.skills,
        "session": args.session,
        "loop_thread_us": {
            "setup_wall": summary(spans["setup"]),
            "setup_cpu": summary(spans["setup_cpu"]),
            "record_wall": summary(spans["record"]),
            "record_cpu": summary(spans["record_cpu"]),
        },
        "process_cpu_us_per_request": round(process_cpu / args.requests * 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--skills", type=int, default=8)
    parser.add_argument("--session", action="store_true", help="turns in sessions of ten")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="turn-setup-") as tmp:
        workdir = Path(tmp)
        os.environ.update(
            AMPLIFIER_AGENT_HOME=str(workdir / "state-root"),
            HOME=str(workdir / "home"),
            OPENAI_API_KEY="sk-bench",
        )
        write_skills(workdir / ".amplifier" / "skills", args.skills)
        report = asyncio.run(measure(args, workdir))
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
