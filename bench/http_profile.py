"""Where `serve chat-completions` spends its CPU under steady load, from py-spy samples, as text.

    python bench/http_profile.py [--stream] [--clients 4] [--seconds 15] [--top 20]
                                 [--raw-out FILE] [--server-python PATH | --server-cmd "CMD"]

Starts the fake upstream and the server as `http_hot_path.py` does (same placement), drives a
closed loop of keep-alive clients (non-streamed, or streams of `--deltas` deltas with `--stream`),
and samples the server with `py-spy record --nonblocking` while the load runs. Prints the
functions most often on the stack (inclusive: the function or anything it called was running)
and most often at its top (self); the start-up frames under every sample (`main`, click, the
event loop's own run methods) are left out. Needs py-spy (`pip install py-spy`) and the right to
trace the server (root, or kernel.yama.ptrace_scope = 0).
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from hotpath_procs import (
    JobError,
    Placement,
    SetupError,
    agent_server,
    fake_upstream,
    finish_job,
    job_spec,
    run_job,
    script_fake,
    server_command,
    start_job,
    stop,
)
from hotpath_sections import chat_body, text_reply

FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*)\)$")
#: Leading frames found under nearly every sample (interpreter, CLI and event-loop start-up); they
#: are dropped so the inclusive table shows the request path instead of `main`.
SPINE = re.compile(
    r"^<module> |\((asyncio/(runners|base_events|events)\.py|click/.*|amplifier_agent/cli/.*"
    r"|threading\.py|concurrent/futures/thread\.py|runpy\.py)\)$"
)
#: The load runs this much longer than the sampling, so py-spy never sees the load ramp down.
LOAD_MARGIN_S = 3.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--stream", action="store_true", help="streamed requests")
    parser.add_argument("--deltas", type=int, default=16, help="content deltas per stream")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=15.0, help="sampling time")
    parser.add_argument("--rate", type=int, default=100, help="samples per second")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument(
        "--gil",
        action="store_true",
        help="only samples holding the GIL: Python CPU work, not blocking calls such as fsync",
    )
    parser.add_argument("--raw-out", type=Path, help="also keep py-spy's raw (collapsed) stacks")
    server = parser.add_mutually_exclusive_group()
    server.add_argument("--server-python", help="run the server as `PATH -m amplifier_agent`")
    server.add_argument("--server-cmd", help="command that runs (execs) the CLI")
    args = parser.parse_args()
    if not 1 <= args.clients <= 256 or not 1 <= args.seconds <= 300:
        parser.error("--clients must be 1..256 and --seconds 1..300")
    return args


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SetupError("py-spy is not installed: pip install py-spy")
    return found


def profile(args: argparse.Namespace, raw: Path) -> dict[str, object]:
    """Run the load, sample the server into `raw`; returns what the load client measured."""
    placement = Placement.plan()
    command = server_command(args.server_python, shlex.split(args.server_cmd or ""))
    spy = py_spy()
    with (
        tempfile.TemporaryDirectory(prefix="hot-path-") as temp,
        fake_upstream(placement) as fake,
        agent_server(command, fake, placement, Path(temp)) as server,
    ):
        script_fake(fake, text_reply(deltas=args.deltas) if args.stream else text_reply())
        load = {"clients": args.clients, "body": chat_body(args.stream), "stream": args.stream}
        warm = job_spec("closed_loop", fake, server, target="server", **load)
        run_job({**warm, "duration_s": 1.0, "warmup_s": 0.2}, placement, 60)
        job = start_job(
            {**warm, "duration_s": args.seconds + LOAD_MARGIN_S, "warmup_s": 1.0}, placement
        )
        try:
            record = [spy, "record", "--pid", str(server.endpoint.pid), "--format", "raw"]
            record += ["--nolineno", "--nonblocking", "--rate", str(args.rate)]
            record += ["--duration", str(int(args.seconds)), "--output", str(raw)]
            record += ["--gil"] if args.gil else []
            sampled = subprocess.run(
                placement.pin(record, placement.client),
                capture_output=True,
                text=True,
                timeout=args.seconds + 60,
            )
            if sampled.returncode != 0:
                raise SetupError(f"py-spy failed: {sampled.stderr.strip()[-500:]}")
        except BaseException:
            stop(job)
            raise
        return finish_job(job, "closed_loop", args.seconds + 120)


def tally(raw: Path) -> tuple[int, Counter[str], Counter[str]]:
    """Samples in all, samples per frame anywhere on the stack, samples per frame on top."""
    total, inclusive, own = 0, Counter[str](), Counter[str]()
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = _without_spine(stack.split(";"))
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    return total, inclusive, own


def _without_spine(frames: list[str]) -> list[str]:
    for index, frame in enumerate(frames):
        if not SPINE.search(frame):
            return frames[index:]
    return frames[-1:]


def by_package(own: Counter[str]) -> Counter[str]:
    """Self samples per package (`amplifier_agent` per sub-package), to see whose code runs."""
    packages = Counter[str]()
    for frame, count in own.items():
        match = FRAME.match(frame)
        parts = (match["file"] if match else "?").removesuffix(".py").split("/")
        depth = 2 if parts[0] == "amplifier_agent" and len(parts) > 2 else 1
        packages[".".join(parts[:depth])] += count
    return packages


def table(title: str, counts: Counter[str], total: int, top: int, label: str) -> list[str]:
    """`label` names the first column's rows: py-spy frames read `function (file)`."""
    lines = [title, f"{'%':>6}  {'samples':>7}  {label}"]
    lines += [
        f"{100 * count / total:6.1f}  {count:7d}  {row}" for row, count in counts.most_common(top)
    ]
    return lines


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="hot-path-profile-") as temp:
        raw = args.raw_out or Path(temp) / "stacks.txt"
        try:
            load = profile(args, raw)
        except (SetupError, JobError, OSError) as exc:
            raise SystemExit(f"http_profile: {exc}") from None
        total, inclusive, own = tally(raw)
    if not total:
        raise SystemExit("http_profile: py-spy recorded no samples")
    kind = f"streamed ({args.deltas} deltas)" if args.stream else "non-streamed"
    latency = load["latency"]
    head = [
        f"server under {kind} load, {args.clients} keep-alive clients, "
        f"{args.seconds:g} s at {args.rate} samples/s: {total} samples of a "
        + ("thread holding the GIL" if args.gil else "running thread (blocking calls count)"),
        f"load during the run: {load['rps']} requests/s, latency {latency}",
        "",
    ]
    body = table(f"top {args.top} inclusive", inclusive, total, args.top, "function (file)")
    body += ["", *table(f"top {args.top} self", own, total, args.top, "function (file)")]
    body += ["", *table("self by package", by_package(own), total, args.top, "package")]
    print("\n".join(head + body))


if __name__ == "__main__":
    main()
