"""Wall time of one `amplifier-agent run -y --output json "hi"` against an instant fake upstream.

    python bench/run_latency.py [--runs 10] [--providers anthropic,openai] [--no-profile]

Starts `python -m testkit --default-text ok` as a process, then for each provider runs the
installed console script once to warm up (which also fills the model-list cache) and `--runs`
more times, each in a fresh process. Prints a JSON report per provider: median/p90/min/max wall
time, the median CPU time (user + system) of the process, which a busy machine disturbs less
than wall time, the engine's own `durationMs` from the envelope, and (unless `--no-profile`)
where start-up time goes, from `python -X importtime`: self time by package, the ten costliest
modules by cumulative time (a module whose import is almost all one child's is shown as that
child), the ten costliest top-level imports (each `import` the process itself ran, including the
deferred ones a turn runs on the way) and which heavy packages were imported at all.
Goal: median <= 300 ms.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GOAL_MS = 300.0
TOP = 10
#: Packages a turn should import only when it uses them.
HEAVY = ("anthropic", "openai", "genai_prices", "mcp", "starlette", "uvicorn", "aiohttp")
#: A module at least this much of whose cumulative import time is one child's is listed as that
#: child: a chain of thin wrappers over one costly import is one cost, not ten.
PASS_THROUGH = 0.9
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


@dataclass(frozen=True)
class Sample:
    wall_ms: float
    cpu_ms: float
    engine_ms: int


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(argv: list[str], env: dict[str, str], cwd: Path) -> Sample:
    """Wall and CPU time and the envelope's durationMs of one run; a failed run aborts."""
    cpu_before = children_cpu_s()
    started = time.perf_counter()
    result = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    wall_ms = (time.perf_counter() - started) * 1000
    cpu_ms = (children_cpu_s() - cpu_before) * 1000
    if result.returncode != 0:
        raise SystemExit(f"{argv} exited {result.returncode}:\n{result.stderr[-1000:]}")
    envelope = json.loads(result.stdout)
    if envelope["reply"] != "ok":
        raise SystemExit(f"unexpected reply: {result.stdout}")
    return Sample(wall_ms, cpu_ms, int(envelope["metadata"]["durationMs"]))


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
        walls = [sample.wall_ms for sample in samples]
        report: dict[str, Any] = {
            "runs": runs,
            "median_ms": round(statistics.median(walls), 1),
            "p90_ms": round(percentile(walls, 0.9), 1),
            "min_ms": round(min(walls), 1),
            "max_ms": round(max(walls), 1),
            "cpu_median_ms": round(statistics.median(s.cpu_ms for s in samples), 1),
            "engine_duration_median_ms": statistics.median(s.engine_ms for s in samples),
            "meets_goal": statistics.median(walls) <= GOAL_MS,
        }
        if profile:
            report["imports"] = import_profile(env, root)
        return report


def import_profile(env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Where one run's import time goes (ms), from `python -X importtime`."""
    argv = [sys.executable, "-X", "importtime", "-m", "amplifier_agent"]
    argv += ["run", "-y", "--quiet", "--output", "json", PROMPT]
    result = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    rows = list(parse_importtime(result.stderr))
    loaded = {row.name for row in rows}
    return {
        "total_import_ms": round(sum(row.self_us for row in rows) / 1000, 1),
        "self_ms_by_package": self_by_package(rows),
        "largest_cumulative_ms": ranked(without_pass_through(rows)),
        "largest_top_level_ms": ranked([row for row in rows if row.depth == 0]),
        "heavy_imported": [name for name in HEAVY if name in loaded],
    }


@dataclass(frozen=True)
class ImportRow:
    """One `import time:` line: the module, its own and its cumulative µs, its nesting depth."""

    name: str
    self_us: int
    cumulative_us: int
    depth: int


def parse_importtime(stderr: str) -> Iterator[ImportRow]:
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        head, cumulative_us, name_field = line.split("|")
        self_us = head.removeprefix("import time:")
        # One leading space, then two per level of nesting.
        depth = (len(name_field) - len(name_field.lstrip()) - 1) // 2
        yield ImportRow(name_field.strip(), int(self_us), int(cumulative_us), depth)


def self_by_package(rows: list[ImportRow]) -> dict[str, float]:
    by_package: dict[str, float] = {}
    for row in rows:
        package = row.name.split(".", 1)[0]
        by_package[package] = by_package.get(package, 0.0) + row.self_us / 1000
    ordered = sorted(by_package.items(), key=lambda item: item[1], reverse=True)
    return {package: round(ms, 1) for package, ms in ordered[:TOP]}


def without_pass_through(rows: list[ImportRow]) -> list[ImportRow]:
    """The rows minus those whose cumulative time is mostly one direct child's.

    importtime prints a module after its children, so a module's direct children are the rows
    one level deeper since the previous row at its own level or above."""
    kept: list[ImportRow] = []
    children: list[list[ImportRow]] = [[]]
    for row in rows:
        while len(children) <= row.depth + 1:
            children.append([])
        own_children = children[row.depth + 1]
        largest_child = max((child.cumulative_us for child in own_children), default=0)
        if largest_child < PASS_THROUGH * row.cumulative_us:
            kept.append(row)
        children[row.depth + 1] = []
        children[row.depth].append(row)
    return kept


def ranked(rows: list[ImportRow]) -> list[list[Any]]:
    costliest = sorted(rows, key=lambda row: row.cumulative_us, reverse=True)[:TOP]
    return [[row.name, round(row.cumulative_us / 1000, 1)] for row in costliest]


def print_report(benchmark: str, providers: dict[str, Any], **extra: Any) -> None:
    """One JSON report: the benchmark's name, the machine it ran on, and per-provider figures."""
    report = {
        "benchmark": benchmark,
        **extra,
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "providers": providers,
    }
    print(json.dumps(report, indent=2))


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
    print_report("run_latency", results, goal_median_ms=GOAL_MS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
