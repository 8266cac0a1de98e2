"""Turn latency through one `amplifier-agent serve stdio` process against an instant fake
upstream, beside the same turn through one `amplifier-agent run` process per turn.

    python bench/stdio_turns.py [--turns 20] [--runs 3] [--providers anthropic,openai]

For each provider: one `serve stdio` process, `initialize` (timed on its own), then `--turns`
consecutive `turn/submit`s on one session, each timed from writing the request to reading its
response. The first turn pays the provider's imports; the report gives it apart from the median
and p90 of the later ones. Then `--runs` `run -y --output json` processes (after one warm-up),
timed from spawn to exit. Prints a JSON report.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

# The repository root on the path makes `bench` importable when run as a script.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run_latency import (
    PROMPT,
    SCRIPT,
    fake_upstream,
    percentile,
    print_report,
    provider_env,
    run_once,
)


class StdioClient:
    """Requests written to a `serve stdio` process; its responses read in order (a turn's
    notifications are not negotiated, so only responses come back)."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            [str(SCRIPT), "serve", "stdio", "-y"],
            env=env,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._ids = 0

    def call(self, method: str, params: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        """(ms from request to response, the response)."""
        self._ids += 1
        request = {"jsonrpc": "2.0", "id": self._ids, "method": method, "params": params}
        stdin, stdout = self._pipes()
        started = time.perf_counter()
        stdin.write(json.dumps(request).encode() + b"\n")
        stdin.flush()
        response: dict[str, Any] = json.loads(stdout.readline())
        elapsed = (time.perf_counter() - started) * 1000
        if "result" not in response:
            raise SystemExit(f"{method} failed: {response}")
        return elapsed, response

    def close(self) -> None:
        stdin, _ = self._pipes()
        stdin.close()
        if self.process.wait(20) != 0:
            raise SystemExit(f"serve stdio exited {self.process.returncode}")

    def _pipes(self) -> tuple[IO[bytes], IO[bytes]]:
        assert self.process.stdin is not None and self.process.stdout is not None
        return self.process.stdin, self.process.stdout


def stdio_turns(env: dict[str, str], cwd: Path, turns: int) -> dict[str, Any]:
    client = StdioClient(env, cwd)
    try:
        init_ms, _ = client.call("initialize", {"protocolVersion": "0.3.0", "sessionId": "bench"})
        samples = []
        for index in range(turns):
            params = {"sessionId": "bench", "turnId": f"t{index}", "prompt": PROMPT}
            elapsed, response = client.call("turn/submit", params)
            if response["result"]["reply"] != "ok":
                raise SystemExit(f"unexpected reply: {response}")
            samples.append(elapsed)
    finally:
        client.close()
    later = samples[1:]
    return {
        "turns": turns,
        "initialize_ms": round(init_ms, 1),
        "first_turn_ms": round(samples[0], 1),
        "later_median_ms": round(statistics.median(later), 1),
        "later_p90_ms": round(percentile(later, 0.9), 1),
        "later_max_ms": round(max(later), 1),
    }


def run_per_turn(env: dict[str, str], cwd: Path, runs: int) -> dict[str, Any]:
    argv = [str(SCRIPT), "run", "-y", "--quiet", "--output", "json", PROMPT]
    run_once(argv, env, cwd)  # warm-up: page cache, .pyc files, model-list cache
    walls = [run_once(argv, env, cwd).wall_ms for _ in range(runs)]
    return {
        "runs": runs,
        "median_ms": round(statistics.median(walls), 1),
        "min_ms": round(min(walls), 1),
        "max_ms": round(max(walls), 1),
    }


def measure(provider: str, url: str, turns: int, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="stdio-turns-") as tmp:
        root = Path(tmp)
        env = provider_env(provider, url, root)
        return {
            "serve_stdio": stdio_turns(env, root, turns),
            "run_per_turn": run_per_turn(env, root, runs),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--providers", default="anthropic,openai")
    args = parser.parse_args()
    if not SCRIPT.exists():
        raise SystemExit(f"console script not found: {SCRIPT} (pip install -e . first)")
    with fake_upstream() as url:
        results = {
            provider: measure(provider, url, args.turns, args.runs)
            for provider in args.providers.split(",")
        }
    print_report("stdio_turns", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
