"""Consecutive turns of one session through each host SDK against an instant fake upstream, in
both lifecycles: one `run` process per turn ("one-shot") and one `serve stdio` process for every
turn ("persistent").

    python bench/sdk_turns.py [--turns 20] [--providers anthropic,openai] [--sdks python,typescript]

Per provider, SDK and lifecycle: `first_turn_ms` (from asking the SDK for a handle to the first
result: engine start-up, provider imports and all) and the median/p90/max of the later turns
(from `submit` to the `result` event; a one-shot turn also makes its handle, so it pays the
engine's `version --json` probe and start-up every time). `fake_ms` is the fake upstream's own
answer to the same streaming request over a keep-alive connection, so `added_median_ms` (later
median minus it) is what the SDK, the engine and the pipes add. Goal: persistent later turns add
<= 20 ms. Wall times suffer on a busy machine, so a persistent run also reports the CPU time per
later turn of the host process (`host_cpu_ms_per_turn`: the SDK, plus the interpreter's own
idle work) and of the engine process (`engine_cpu_ms_per_turn`), which other load disturbs much
less. Python runs in this process; TypeScript in `node bench/sdk_turns_node.mjs`.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# The repository root on the path makes `bench` importable when run as a script.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run_latency import SCRIPT, fake_upstream, percentile, print_report, provider_env

GOAL_ADDED_MS = 20.0
NODE_SCRIPT = Path(__file__).resolve().with_name("sdk_turns_node.mjs")
FAKE_SAMPLES = 20
#: The streaming request each provider's adapter makes, reduced to what the fake reads.
FAKE_REQUESTS = {
    "anthropic": (
        "/v1/messages",
        {
            "model": "claude-sonnet-4-5-20250929",
            "max_tokens": 64,
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        },
    ),
    "openai": (
        "/v1/chat/completions",
        {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
    ),
}


def fake_ms(url: str, provider: str) -> float:
    """Median time for the fake to answer one streaming request, over a keep-alive connection."""
    path, body = FAKE_REQUESTS[provider]
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
    payload = json.dumps(body).encode()
    headers = {"content-type": "application/json", "authorization": "Bearer sk-bench"}
    samples = []
    try:
        for _ in range(FAKE_SAMPLES + 1):
            started = time.perf_counter()
            connection.request("POST", path, payload, headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise SystemExit(f"the fake answered {response.status} on {path}")
            samples.append((time.perf_counter() - started) * 1000)
    finally:
        connection.close()
    return statistics.median(samples[1:])  # the first one opens the connection


def process_cpu_ms(pid: int) -> float:
    """User + system CPU time a live process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime and stime: fields 14 and 15 of stat
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


Turns = tuple[float, list[float], dict[str, float]]


async def python_turns(mode: str, turns: int, session_id: str) -> Turns:
    from amplifier_agent_py import spawn_agent

    async def turn(handle: Any) -> None:
        last: dict[str, Any] = {}
        async for event in handle.submit("hi"):
            last = event
        if last.get("type") != "result" or last.get("text") != "ok":
            raise SystemExit(f"turn failed: {last}")

    samples = []
    cpu: dict[str, float] = {}
    if mode == "persistent":
        started = time.perf_counter()
        handle = await spawn_agent(session_id=session_id, lifecycle="persistent")
        await turn(handle)
        samples.append((time.perf_counter() - started) * 1000)
        engine_pid = handle.engine_pid
        assert engine_pid is not None
        host_before, engine_before = time.process_time() * 1000, process_cpu_ms(engine_pid)
        for _ in range(turns - 1):
            begun = time.perf_counter()
            await turn(handle)
            samples.append((time.perf_counter() - begun) * 1000)
        cpu = {
            "host_cpu_ms_per_turn": (time.process_time() * 1000 - host_before) / (turns - 1),
            "engine_cpu_ms_per_turn": (process_cpu_ms(engine_pid) - engine_before) / (turns - 1),
        }
        await handle.close()
    else:
        for index in range(turns):
            begun = time.perf_counter()
            handle = await spawn_agent(session_id=session_id, resume=index > 0)
            await turn(handle)
            samples.append((time.perf_counter() - begun) * 1000)
    return samples[0], samples[1:], cpu


def node_turns(mode: str, turns: int, session_id: str) -> Turns:
    done = subprocess.run(
        ["node", str(NODE_SCRIPT), mode, str(turns), session_id],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the TypeScript SDK run failed:\n{done.stderr[-2000:]}")
    report = json.loads(done.stdout.splitlines()[-1])
    cpu = {k: float(v) for k, v in report.get("cpu", {}).items()}
    return float(report["first_ms"]), [float(v) for v in report["later_ms"]], cpu


def summary(first: float, later: list[float], cpu: dict[str, float], fake: float) -> dict[str, Any]:
    median = statistics.median(later)
    return {
        **{name: round(value, 2) for name, value in cpu.items()},
        "first_turn_ms": round(first, 1),
        "later_median_ms": round(median, 1),
        "later_p90_ms": round(percentile(later, 0.9), 1),
        "later_max_ms": round(max(later), 1),
        "added_median_ms": round(median - fake, 1),
        "added_p90_ms": round(percentile(later, 0.9) - fake, 1),
    }


def measure(provider: str, url: str, turns: int, sdks: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sdk-turns-") as tmp:
        root = Path(tmp)
        env = provider_env(provider, url, root)
        env["AMPLIFIER_AGENT_BIN"] = str(SCRIPT)
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
        previous = Path.cwd()
        os.chdir(root)  # the engine's default tool directory and workspace
        try:
            fake = fake_ms(url, provider)
            report: dict[str, Any] = {"fake_ms": round(fake, 2)}
            for sdk in sdks:
                for mode in ("one-shot", "persistent"):
                    session_id = f"{sdk}-{mode}"
                    if sdk == "python":
                        first, later, cpu = asyncio.run(python_turns(mode, turns, session_id))
                    else:
                        first, later, cpu = node_turns(mode, turns, session_id)
                    report[f"{sdk}_{mode}"] = summary(first, later, cpu, fake)
            return report
        finally:
            os.chdir(previous)
            os.environ.clear()
            os.environ.update(saved)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--providers", default="anthropic,openai")
    parser.add_argument("--sdks", default="python,typescript")
    args = parser.parse_args()
    if not SCRIPT.exists():
        raise SystemExit(f"console script not found: {SCRIPT} (pip install -e . first)")
    sdks = args.sdks.split(",")
    if "typescript" in sdks and shutil.which("node") is None:
        raise SystemExit("node is not installed: pass --sdks python")
    with fake_upstream() as url:
        results = {
            provider: measure(provider, url, args.turns, sdks)
            for provider in args.providers.split(",")
        }
    print_report("sdk_turns", results, turns=args.turns, goal_added_ms=GOAL_ADDED_MS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
