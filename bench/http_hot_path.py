"""What the HTTP face adds on its hot path, against a loopback fake upstream, as one JSON report.

    python bench/http_hot_path.py [--quick] [--only latency,stream,cpu,responses,rps,streams]
                                  [--server-python PATH | --server-cmd "CMD"] [--with-floor]

The fake upstream (`python -m testkit`), the server under test (`serve chat-completions` with an
`openai` provider pointed at the fake) and the load client each run as their own process; with two
or more cores the server gets a core to itself and the fake and the client share another. Every
"added" figure compares requests sent through the server with requests sent straight to the fake
in the same run, alternating one by one. `--with-floor` then measures `floor_server.py` (the hot
path's required parts alone) the same way and reports its figures beside ours. bench/README.md
explains each figure.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotpath_procs import (
    JobError,
    Placement,
    RssSampler,
    Server,
    SetupError,
    agent_server,
    checkout_commit,
    fake_upstream,
    memory_mib,
    preemptions,
    server_command,
)
from hotpath_sections import SECTIONS, Context, Params

Report = dict[str, Any]

FULL = Params(
    requests=1000,
    warmup=50,
    gap_streams=30,
    rps_clients=(1, 4, 16, 64),
    rps_seconds=5.0,
    rps_warmup_s=1.0,
    direct_seconds=2.0,
    cpu_requests=1000,
    cpu_streams=300,
    stall_levels=(32, 64, 128, 256),
)
QUICK = Params(
    requests=100,
    warmup=10,
    gap_streams=4,
    rps_clients=(1, 4, 16, 64),
    rps_seconds=1.0,
    rps_warmup_s=0.3,
    direct_seconds=0.5,
    cpu_requests=150,
    cpu_streams=40,
    stall_levels=(32,),
)


@dataclass(frozen=True)
class Goal:
    figure: str
    better: str  # "<=" or ">="
    target: float

    def judge(self, value: float | None) -> dict[str, Any]:
        met = (
            None
            if value is None
            else (value <= self.target if self.better == "<=" else value >= self.target)
        )
        return {"value": value, "goal": f"{self.better} {self.target:g}", "met": met}


GOALS = (
    Goal("added_latency_p50_ms", "<=", 1.0),
    Goal("added_ttft_p50_ms", "<=", 1.0),
    Goal("added_chunk_gap_p99_ms", "<=", 0.2),
    Goal("rps_at_p99_le_50ms", ">=", 1000),
    Goal("cpu_ms_per_request", "<=", 1.0),
    Goal("responses_vs_chat_cpu_ratio", "<=", 1.0),
    Goal("stall_free_streams", ">=", 256),
    Goal("rss_under_load_mib", "<=", 80),
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs, for a smoke test")
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run, from: {', '.join(SECTIONS)} (RSS is always read)",
    )
    server = parser.add_mutually_exclusive_group()
    server.add_argument(
        "--server-python", help="run the server as `PATH -m amplifier_agent` (another checkout)"
    )
    server.add_argument(
        "--server-cmd",
        help="command that runs the CLI (it must exec the server itself, not fork it), "
        "e.g. '/other/.venv/bin/amplifier-agent'",
    )
    parser.add_argument(
        "--with-floor",
        action="store_true",
        help="also measure bench/floor_server.py (the required parts alone) and report it beside",
    )
    args = parser.parse_args()
    args.sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    return args


def run_sections(ctx: Context, names: list[str]) -> tuple[dict[str, Report], float]:
    """Each section in turn; a failing section is reported and the rest still run."""
    results: dict[str, Report] = {}
    with RssSampler(ctx.server.endpoint.pid) as sampler:
        for name in names:
            started = time.monotonic()
            try:
                results[name] = SECTIONS[name](ctx)
            except (JobError, SetupError, OSError) as exc:
                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            results[name]["seconds"] = round(time.monotonic() - started, 1)
            ctx.server.check_alive()
    return results, sampler.peak_mib


def headline(sections: dict[str, Report], rss: Report) -> Report:
    """The figures the goals are stated in, pulled out of the sections that ran."""
    figures: Report = {}
    for section in sections.values():
        figures.update(section.get("figures", {}))
    figures["rss_idle_mib"] = rss["idle_mib"]
    figures["rss_under_load_mib"] = rss["under_load_peak_mib"]
    return figures


def measure(args: argparse.Namespace, placement: Placement) -> Report:
    params = QUICK if args.quick else FULL
    command = server_command(args.server_python, shlex.split(args.server_cmd or ""))
    with (
        tempfile.TemporaryDirectory(prefix="hot-path-") as temp,
        fake_upstream(placement) as fake,
        agent_server(command, fake, placement, Path(temp)) as server,
    ):
        time.sleep(1.0)  # let start-up work (model list, caches) finish before "idle"
        idle = memory_mib(server.endpoint.pid)["VmRSS"]
        ctx = Context(fake, server, placement, params)
        preempted, started = preemptions(server.endpoint.pid), time.monotonic()
        sections, peak = run_sections(ctx, args.sections)
        after = memory_mib(server.endpoint.pid)
        noise = {
            "server_preemptions": preemptions(server.endpoint.pid) - preempted,
            "seconds": round(time.monotonic() - started, 1),
        }
        rss = {
            "idle_mib": idle,
            "under_load_peak_mib": peak if args.sections else None,
            "after_load_mib": after["VmRSS"],
            "vm_hwm_mib": after["VmHWM"],
        }
        return _report(args, placement, server, sections, rss, noise)


def _report(
    args: argparse.Namespace,
    placement: Placement,
    server: Server,
    sections: dict[str, Report],
    rss: Report,
    noise: Report,
) -> Report:
    figures = headline(sections, rss)
    warnings = [w for s in sections.values() for w in s.pop("warnings", [])]
    return {
        "benchmark": "http_hot_path",
        "mode": "quick" if args.quick else "full",
        "finished_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            **placement.to_json(),
            **noise,
        },
        "server_argv": server.argv[: server.argv.index("serve") + 2],
        "server_commit": checkout_commit(server.argv),
        "figures": figures,
        "goals": {g.figure: g.judge(figures.get(g.figure)) for g in GOALS},
        "warnings": warnings,
        "sections": sections,
        "rss": rss,
    }


def main() -> None:
    args = parse_args()
    placement = Placement.plan()
    if placement.fake is not None:
        # This process only waits and samples /proc; keep it off the server's core.
        os.sched_setaffinity(0, {placement.fake})
    try:
        report = measure(args, placement)
        if args.with_floor:
            report.update(floor_figures(args, placement, report["figures"]))
    except (SetupError, OSError) as exc:
        raise SystemExit(f"http_hot_path: {exc}") from None
    print(json.dumps(report, indent=2))


def floor_figures(args: argparse.Namespace, placement: Placement, ours: Report) -> Report:
    """The floor server's figures (the sections it serves: not `responses`) and ours minus them."""
    floor_server = Path(__file__).resolve().with_name("floor_server.py")
    floor_args = argparse.Namespace(**vars(args))
    floor_args.server_python = None
    floor_args.server_cmd = shlex.join([sys.executable, str(floor_server)])
    floor_args.sections = [name for name in args.sections if name != "responses"]
    floor = measure(floor_args, placement)
    above = {
        name: round(value - floor["figures"][name], 3)
        for name, value in ours.items()
        if isinstance(value, int | float) and isinstance(floor["figures"].get(name), int | float)
    }
    return {
        "floor": {
            "server_argv": floor["server_argv"],
            "figures": floor["figures"],
            "warnings": floor["warnings"],
            "machine": floor["machine"],
        },
        "above_floor": above,
    }


if __name__ == "__main__":
    main()
