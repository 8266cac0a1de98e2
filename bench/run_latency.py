"""Wall time of one `amplifier-agent run -y --output json "hi"` against an instant fake upstream.

    python bench/run_latency.py [--runs 10] [--providers anthropic,openai] [--no-profile]

Starts `python -m testkit --default-text ok` as a process, then for each provider runs the
installed console script once to warm up (which also fills the model-list cache) and `--runs`
more times, each in a fresh process. Prints a JSON report: median/p90/min/max wall time, the
engine's own `durationMs` from the envelope, and (unless `--no-profile`) where start-up time
goes, from `python -X importtime`. Goal: median <= 300 ms.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

GOAL_MS = 300.0
SCRIPT = Path(sys.executable).with_name("amplifier-agent")
REPO = Path(__file__).resolve().parents[1]
PROMPT = "hi"


@contextmanager
def fake_upstream() -> Iterator[str]:
    """A `python -m testkit` process answering every call with "ok"; yields its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "testkit", "--default-text", "ok"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise SystemExit("the fake upstream did not start")
        yield str(json.loads(line)["url"])
    finally:
        process.terminate()
        process.wait(10)


def provider_env(provider: str, url: str, root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AMPLIFIER_", "ANTHROPIC_"))}
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_API_KEY", "OLLAMA_HOST"):
        env.pop(name, None)
    env["AMPLIFIER_AGENT_HOME"] = str(root / "home")
    env["HOME"] = str(root / "user")
    (root / "user").mkdir(exist_ok=True)
    if provider == "anthropic":
        env.update(ANTHROPIC_API_KEY="sk-ant-bench", ANTHROPIC_BASE_URL=url)
    else:
        env.update(OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=f"{url}/v1")
    return env


def run_once(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int]:
    """(wall ms, envelope durationMs) of one run; a failed run aborts the benchmark."""
    started = time.perf_counter()
    result = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    wall_ms = (time.perf_counter() - started) * 1000
    if result.returncode != 0:
        raise SystemExit(f"{argv} exited {result.returncode}:\n{result.stderr[-1000:]}")
    envelope = json.loads(result.stdout)
    if envelope["reply"] != "ok":
        raise SystemExit(f"unexpected reply: {result.stdout}")
    return wall_ms, int(envelope["metadata"]["durationMs"])


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def measure(provider: str, url: str, runs: int, profile: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="run-latency-") as tmp:
        root = Path(tmp)
        env = provider_env(provider, url, root)
        argv = [str(SCRIPT), "run", "-y", "--quiet", "--output", "json", PROMPT]
        run_once(argv, env, root)  # warm-up: page cache, .pyc files, model-list cache
        samples = [run_once(argv, env, root) for _ in range(runs)]
        walls = [wall for wall, _ in samples]
        report: dict[str, Any] = {
            "runs": runs,
            "median_ms": round(statistics.median(walls), 1),
            "p90_ms": round(percentile(walls, 0.9), 1),
            "min_ms": round(min(walls), 1),
            "max_ms": round(max(walls), 1),
            "engine_duration_median_ms": statistics.median(d for _, d in samples),
            "meets_goal": statistics.median(walls) <= GOAL_MS,
        }
        if profile:
            report["imports"] = import_profile(env, root)
        return report


def import_profile(env: dict[str, str], cwd: Path, top: int = 12) -> dict[str, Any]:
    """Where one run's import time goes: the costliest modules by cumulative time (ms)."""
    argv = [
        sys.executable,
        "-X",
        "importtime",
        "-m",
        "amplifier_agent",
        "run",
        "-y",
        "--quiet",
        "--output",
        "json",
        PROMPT,
    ]
    result = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    rows = list(parse_importtime(result.stderr))
    total_ms = sum(self_us for _, self_us, _ in rows) / 1000
    roots = {
        "amplifier_agent",
        "anthropic",
        "openai",
        "httpx2",
        "pydantic",
        "click",
        "mcp",
        "genai_prices",
        "orjson",
        "starlette",
        "uvicorn",
        "asyncio",
    }
    by_package: dict[str, float] = {}
    for name, self_us, _ in rows:
        package = name.split(".", 1)[0]
        key = package if package in roots else "other"
        by_package[key] = by_package.get(key, 0.0) + self_us / 1000
    costliest = sorted(rows, key=lambda row: row[2], reverse=True)[:top]
    return {
        "total_import_ms": round(total_ms, 1),
        "self_ms_by_package": {
            k: round(v, 1)
            for k, v in sorted(by_package.items(), key=lambda item: item[1], reverse=True)
        },
        "largest_cumulative_ms": [[name, round(cum / 1000, 1)] for name, _, cum in costliest],
    }


def parse_importtime(stderr: str) -> Iterator[tuple[str, int, int]]:
    """(module, self µs, cumulative µs) per `import time:` line."""
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        head, cumulative_us, name = line.split("|")
        self_us = head.removeprefix("import time:")
        yield name.strip(), int(self_us.strip()), int(cumulative_us.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--providers", default="anthropic,openai")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    if not SCRIPT.exists():
        raise SystemExit(f"console script not found: {SCRIPT} (pip install -e . first)")
    with fake_upstream() as url:
        results = {
            provider: measure(provider, url, args.runs, not args.no_profile)
            for provider in args.providers.split(",")
        }
    report = {
        "benchmark": "run_latency",
        "goal_median_ms": GOAL_MS,
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "providers": results,
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
