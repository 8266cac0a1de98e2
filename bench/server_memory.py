"""Where the HTTP server's memory goes: idle, per top-level package, and per live stream.

    python bench/server_memory.py [--streams 128] [--delay-s 0.1] [--server-python PATH]

Runs `serve chat-completions` twice under `memory_probe.py` (the CLI plus an import hook and a
SIGUSR1 report), each time against the fake upstream of `http_hot_path.py`: once plain, for
resident memory, and once under `python -X tracemalloc`, for the Python allocations behind it
(tracing makes the process larger and slower, so only its differences are reported). Each run
reads the server idle, after a warm-up of a few streams, and while `--streams` streams of 64
deltas paced at `--delay-s` are open at once; `live` is how many were mid-stream at that moment.
One JSON report on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from hotpath_client import Connection, StreamTimes, Target
from hotpath_procs import (
    SERVER_KEY,
    Placement,
    SetupError,
    agent_server,
    checkout_commit,
    fake_upstream,
    memory_mib,
    script_fake,
)
from hotpath_sections import chat_body, text_reply

BENCH = Path(__file__).resolve().parent
DELTAS = 64
WARM_STREAMS = 8


def probe_report(pid: int, out: Path, index: int) -> dict[str, Any]:
    """Ask the probe for its report number `index` and wait for it."""
    os.kill(pid, signal.SIGUSR1)
    path = Path(f"{out}.{index}.json")
    deadline = time.monotonic() + 120
    while not path.exists():
        if time.monotonic() > deadline:
            raise SetupError(f"the server wrote no memory report {index}")
        time.sleep(0.05)
    report: dict[str, Any] = json.loads(path.read_text())
    return report


async def open_streams(target: Target, count: int) -> list[StreamTimes]:
    connections = [Connection(target) for _ in range(count)]
    body = json.dumps(chat_body(True)).encode()
    try:
        return list(await asyncio.gather(*(c.post_stream(c.request(body)) for c in connections)))
    finally:
        for connection in connections:
            connection.close()


class StreamLoad:
    """`count` concurrent streams on a thread of their own."""

    def __init__(self, target: Target, count: int) -> None:
        self.result: list[StreamTimes] = []
        self._thread = threading.Thread(target=self._run, args=(target, count), daemon=True)

    def _run(self, target: Target, count: int) -> None:
        self.result = asyncio.run(open_streams(target, count))

    def __enter__(self) -> StreamLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join()


def measure(
    command: list[str], traced: bool, streams: int, delay_s: float, placement: Placement
) -> dict[str, Any]:
    """One server run: idle, after warm-up, with `streams` open, and after them."""
    argv = [command[0], "-X", "tracemalloc=1", *command[1:]] if traced else command
    with tempfile.TemporaryDirectory() as tmp, fake_upstream(placement) as fake:
        out = Path(tmp) / "report"
        env = {"MEMORY_PROBE_OUT": str(out)}
        with agent_server(argv, fake, placement, Path(tmp), extra_env=env) as server:
            pid = server.endpoint.pid
            target = Target("server", fake.host, server.endpoint.port, SERVER_KEY)
            time.sleep(1.0)
            idle_rss = memory_mib(pid)["VmRSS"]
            idle = probe_report(pid, out, 0)
            script_fake(fake, text_reply(deltas=DELTAS))
            asyncio.run(open_streams(target, WARM_STREAMS))
            warm_rss = memory_mib(pid)["VmRSS"]
            probe_report(pid, out, 1)
            script_fake(fake, text_reply(deltas=DELTAS, delay_s=delay_s))
            with StreamLoad(target, streams) as load:
                time.sleep(DELTAS * delay_s / 2)
                at = time.perf_counter()
                live_rss = memory_mib(pid)["VmRSS"]
                live = probe_report(pid, out, 2)
            after_rss = memory_mib(pid)["VmRSS"]
            server.check_alive()
    count = sum(1 for s in load.result if s.frames and s.frames[0] < at < s.frames[-1])
    return {
        "idle_rss_mib": idle_rss,
        "idle": idle,
        "streams": {
            "requested": streams,
            "live": count,
            "completed": sum(1 for s in load.result if s.content),
            "rss_mib": {"warm": warm_rss, "live": live_rss, "after": after_rss},
            "rss_kib_per_live_stream": _per(live_rss - warm_rss, 1024, count),
        },
        "live": live,
    }


def _per(value: float, scale: float, count: int) -> float | None:
    return round(value * scale / count, 1) if count else None


def traced_per_stream(live: dict[str, Any], count: int) -> dict[str, Any]:
    """The traced differences of the live report, in KiB per live stream."""
    if not count:
        return {}
    kib = 1024 * count
    return {
        "traced_kib_per_live_stream": round(
            sum(live["traced_diff_bytes_by_package"].values()) / kib, 1
        ),
        "by_package": {
            key: round(value / kib, 2)
            for key, value in live["traced_diff_bytes_by_package"].items()
        },
        "top_lines": [
            {"at": line["at"], "kib": round(line["bytes"] / kib, 2), "count": line["count"]}
            for line in live["traced_diff_top_lines"]
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=128)
    parser.add_argument("--delay-s", type=float, default=0.1, help="pacing between deltas")
    parser.add_argument("--server-python", default=sys.executable)
    args = parser.parse_args()
    command = [args.server_python, str(BENCH / "memory_probe.py")]
    placement = Placement.plan()
    plain = measure(command, False, args.streams, args.delay_s, placement)
    traced = measure(command, True, args.streams, args.delay_s, placement)
    idle = plain["idle"]
    report = {
        "server_commit": checkout_commit([args.server_python]),
        "idle": {
            "rss_mib": plain["idle_rss_mib"],
            **{key: idle[key] for key in ("rollup_mib", "resident_mib_by_mapping")},
            "modules_total": idle["modules_total"],
            "modules_by_package": idle["modules_by_package"],
            "imports_resident": idle["imports"],
            "imports_traced": {
                key: value
                for key, value in traced["idle"]["imports"].items()
                if key.startswith("traced")
            },
        },
        "streams": plain["streams"],
        "streams_traced": {
            **traced["streams"],
            **traced_per_stream(traced["live"], traced["streams"]["live"]),
        },
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
