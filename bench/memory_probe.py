"""The CLI with memory accounting, for `server_memory.py`: not a benchmark on its own.

    python bench/memory_probe.py serve chat-completions ...    # as `amplifier-agent ...`

Every module import is charged, children excluded, to its top-level package: the resident pages
it added (always) and the bytes tracemalloc saw it allocate (when run with `-X tracemalloc`).
On SIGUSR1 the process writes one JSON report to `$MEMORY_PROBE_OUT.<n>.json` (n counts from 0):
smaps totals, resident memory per mapped file, modules per package, the import charges and, under
tracemalloc, what was allocated since the previous report, by package and by file:line.

The import hook wraps `importlib._bootstrap._load_unlocked`, a CPython internal that loads every
module exactly once; it is a measuring aid and never part of the product.
"""

from __future__ import annotations

import gc
import importlib._bootstrap as bootstrap
import json
import os
import signal
import sys
import sysconfig
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MIB = 1 << 20
_STDLIB = sysconfig.get_paths()["stdlib"]


def package_of(filename: str) -> str:
    """The package a file belongs to: `openai`, `stdlib:asyncio`, `amplifier_agent.server`."""
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/amplifier_agent/" in filename:
        rest = filename.split("/amplifier_agent/", 1)[1]
        return "amplifier_agent." + rest.split("/", 1)[0].removesuffix(".py")
    if filename.startswith(_STDLIB + "/"):
        rest = filename[len(_STDLIB) + 1 :].split("/", 1)[0].removesuffix(".py")
        return "stdlib:" + rest
    return filename if filename.startswith("<") else Path(filename).name


def _resident_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class ImportCharges:
    """Resident and traced bytes each import added, its own nested imports excluded."""

    def __init__(self) -> None:
        self.resident: Counter[str] = Counter()
        self.traced: Counter[str] = Counter()
        self.modules: Counter[str] = Counter()
        self._open: list[
            list[int]
        ] = []  # per import in progress: its children's [resident, traced]

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Charge every module loaded inside the block."""
        original = bootstrap._load_unlocked  # type: ignore[attr-defined]

        def load(spec: Any) -> Any:
            self._open.append([0, 0])
            resident, traced = _resident_bytes(), tracemalloc.get_traced_memory()[0]
            try:
                return original(spec)
            finally:
                resident = _resident_bytes() - resident
                traced = tracemalloc.get_traced_memory()[0] - traced
                children = self._open.pop()
                top = spec.name.split(".", 1)[0]
                self.resident[top] += resident - children[0]
                self.traced[top] += traced - children[1]
                self.modules[top] += 1
                if self._open:
                    self._open[-1][0] += resident
                    self._open[-1][1] += traced

        bootstrap._load_unlocked = load  # type: ignore[attr-defined]
        try:
            yield
        finally:
            bootstrap._load_unlocked = original  # type: ignore[attr-defined]

    def to_json(self) -> dict[str, Any]:
        report: dict[str, Any] = {
            "resident_mib_total": round(sum(self.resident.values()) / MIB, 2),
            "resident_mib_by_package": _mib(self.resident, 30),
        }
        if tracemalloc.is_tracing():
            report["traced_mib_total"] = round(sum(self.traced.values()) / MIB, 2)
            report["traced_mib_by_package"] = _mib(self.traced, 30)
        return report


def _mib(counter: Counter[str], top: int) -> dict[str, float]:
    return {key: round(value / MIB, 2) for key, value in counter.most_common(top)}


def smaps() -> dict[str, Any]:
    """`smaps_rollup` totals and resident MiB per mapped file (anonymous memory as one entry)."""
    with open("/proc/self/smaps_rollup") as handle:
        rollup = {
            key: round(int(value.split()[0]) / 1024, 1)
            for key, value in (line.split(":", 1) for line in handle if line.endswith("kB\n"))
        }
    by_mapping: Counter[str] = Counter()
    current = "[anon]"
    with open("/proc/self/smaps") as handle:
        for line in handle:
            fields = line.split()
            if fields and "-" in fields[0] and not fields[0].endswith(":"):
                current = fields[5] if len(fields) > 5 else "[anon]"
                current = package_of(current) if current.startswith("/") else current
            elif fields and fields[0] == "Rss:":
                by_mapping[current] += int(fields[1]) * 1024
    keep = ("Rss", "Pss", "Anonymous", "Private_Dirty", "Shared_Clean", "Private_Clean")
    return {
        "rollup_mib": {key: rollup[key] for key in keep if key in rollup},
        "resident_mib_by_mapping": _mib(by_mapping, 20),
    }


class Reporter:
    """Writes one report per SIGUSR1; under tracemalloc, each report diffs against the last."""

    def __init__(self, charges: ImportCharges, out: str) -> None:
        self.charges, self.out, self.count = charges, out, 0
        self.previous: tracemalloc.Snapshot | None = None

    def __call__(self, signum: int, frame: object) -> None:
        gc.collect()
        report: dict[str, Any] = {**smaps(), "imports": self.charges.to_json()}
        report["modules_total"] = len(sys.modules)
        report["modules_by_package"] = dict(
            Counter(name.split(".", 1)[0] for name in list(sys.modules)).most_common(30)
        )
        if tracemalloc.is_tracing():
            report.update(self._traced())
        path = Path(f"{self.out}.{self.count}.json")
        path.with_suffix(".tmp").write_text(json.dumps(report))
        path.with_suffix(".tmp").rename(path)
        self.count += 1

    def _traced(self) -> dict[str, Any]:
        ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
        snapshot = tracemalloc.take_snapshot().filter_traces(ignore)
        previous, self.previous = self.previous, snapshot
        report: dict[str, Any] = {"traced_mib": round(tracemalloc.get_traced_memory()[0] / MIB, 2)}
        if previous is None:
            return report
        by_package: Counter[str] = Counter()
        for stat in snapshot.compare_to(previous, "filename"):
            by_package[package_of(stat.traceback[0].filename)] += stat.size_diff
        lines = snapshot.compare_to(previous, "lineno")[:25]
        report["traced_diff_bytes_by_package"] = dict(by_package.most_common(25))
        report["traced_diff_top_lines"] = [
            {
                "at": f"{package_of(s.traceback[0].filename)}:"
                f"{Path(s.traceback[0].filename).name}:{s.traceback[0].lineno}",
                "bytes": s.size_diff,
                "count": s.count_diff,
            }
            for s in lines
        ]
        return report


def main() -> None:
    charges = ImportCharges()
    signal.signal(signal.SIGUSR1, Reporter(charges, os.environ["MEMORY_PROBE_OUT"]))
    sys.argv[0] = "amplifier-agent"
    with charges.installed():
        from amplifier_agent.cli.entry import main as cli_main

        cli_main()


if __name__ == "__main__":
    main()
