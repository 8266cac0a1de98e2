"""Startup cost of `amplifier-agent --version`: wall time of fresh processes, as a JSON report.

    python bench/version_startup.py [--runs 20]

Measures the installed console script (found next to the running interpreter) and
`python -m amplifier_agent --version`; each figure is the median, p90, min and max in ms.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def time_once(argv: list[str]) -> float:
    """Milliseconds from spawn to exit of one `argv` run; a failed run aborts the benchmark."""
    started = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, check=False)
    elapsed_ms = (time.perf_counter() - started) * 1000
    if result.returncode != 0:
        raise SystemExit(f"{argv} exited {result.returncode}: {result.stderr.decode()[-500:]}")
    return elapsed_ms


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile (p90 of 20 runs is the 18th fastest)."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def measure(argv: list[str], runs: int) -> dict[str, object]:
    time_once(argv)  # warm the OS page cache so every sample sees the same conditions
    samples = [time_once(argv) for _ in range(runs)]
    return {
        "argv": argv,
        "runs": runs,
        "median_ms": round(statistics.median(samples), 2),
        "p90_ms": round(percentile(samples, 0.9), 2),
        "min_ms": round(min(samples), 2),
        "max_ms": round(max(samples), 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    script = Path(sys.executable).with_name("amplifier-agent")
    if not script.exists():
        raise SystemExit(f"console script not found: {script} (pip install -e . first)")
    report = {
        "benchmark": "version_startup",
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "console_script": measure([str(script), "--version"], args.runs),
        "python_m": measure([sys.executable, "-m", "amplifier_agent", "--version"], args.runs),
        "python_baseline": measure([sys.executable, "-c", "pass"], args.runs),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
