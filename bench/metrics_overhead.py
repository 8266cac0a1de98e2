"""What metrics cost on the hot path, and how honest `x-amplifier-overhead-ms` is, as JSON.

    python bench/metrics_overhead.py [--rounds 12] [--requests 200] [--pairs 300] [--out FILE]

Two servers run side by side (tracing off in both): one with metrics (the default) and one with
`--no-metrics`, each with an `openai` provider pointed at the same loopback fake. CPU per request
is read from /proc (utime + stime of the server process) over fixed batches of non-streamed and
streamed requests, alternating between the servers round by round so that noise from other work
on the machine falls on both alike. Then one client alternates requests straight to the fake and
through the metrics server, and compares the server's own overhead header with the latency the
client saw it add.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx2
from hotpath_procs import (
    Endpoint,
    Placement,
    Server,
    agent_server,
    checkout_commit,
    fake_upstream,
    job_spec,
    preemptions,
    run_job,
    script_fake,
    server_command,
)
from hotpath_sections import chat_body, text_reply

Report = dict[str, Any]
#: (measured, reference): what metrics cost, and what the whole feature costs against the
#: code before it (`--baseline-src`) with metrics on and with them off.
COMPARISONS = (
    ("metrics_on", "metrics_off"),
    ("metrics_on", "baseline"),
    ("metrics_off", "baseline"),
)


def cpu_batch(fake: Endpoint, server: Server, placement: Placement, stream: bool, n: int) -> float:
    """Server CPU microseconds per request over one batch of `n` requests from 4 clients."""
    job = job_spec(
        "batch", fake, server, target="server", clients=4, requests=n, stream=stream,
        body=chat_body(stream),
    )  # fmt: skip
    result = run_job(job, placement, 600)
    return float(result["cpu_s"]) / n * 1e6


def interleaved_cpu(
    fake: Endpoint, servers: dict[str, Server], placement: Placement, rounds: int, n: int
) -> Report:
    samples: dict[str, dict[str, list[float]]] = {
        name: {"json": [], "stream": []} for name in servers
    }
    names = list(servers)
    for round_index in range(rounds):
        # Rotate which server goes first: none always runs on a warmer (or busier) machine.
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            for kind in ("json", "stream"):
                samples[name][kind].append(
                    cpu_batch(fake, servers[name], placement, kind == "stream", n)
                )
    report: Report = {}
    for kind in ("json", "stream"):
        per_server = {name: samples[name][kind] for name in names}
        report[kind] = {
            **{f"cpu_us_per_request_{name}": round(statistics.median(xs), 1)
               for name, xs in per_server.items()},
            **{f"cost_percent_{a}_vs_{b}": _cost(per_server[a], per_server[b])
               for a, b in COMPARISONS if a in servers and b in servers},
            "samples_us": {name: [round(x, 1) for x in xs] for name, xs in per_server.items()},
        }  # fmt: skip
    return report


def _cost(on: list[float], off: list[float]) -> Report:
    """`on` against `off`: the ratio of their medians, and the median of the per-round ratios
    (each round's batches ran back to back, so their ratio cancels the machine's drift)."""
    ratios = [a / b for a, b in zip(on, off, strict=True)]
    return {
        "of_medians": round((statistics.median(on) / statistics.median(off) - 1) * 100, 2),
        "paired_median": round((statistics.median(ratios) - 1) * 100, 2),
    }


def metrics_work_us(iterations: int = 20_000) -> float:
    """In process, the CPU microseconds of what one non-streamed request records (its request,
    first token, one model call's usage and the turn's end), through `ServerMetrics` itself:
    a figure the machine's noise barely moves, to set beside the per-request CPU above."""
    from decimal import Decimal

    from amplifier_agent.core.usage import Usage
    from amplifier_agent.server.metrics import ModelLabels, ServerMetrics

    metrics = ServerMetrics(lambda: 0)
    labels = ModelLabels("openai", "gpt-5")
    usage = Usage(10, 5, cost_usd=Decimal("0.00004"))
    started = time.process_time()
    for _ in range(iterations):
        metrics.request_answered("/v1/chat/completions", 200, labels)
        metrics.first_token(labels, 0.0012)
        metrics.add_usage(labels, usage)
        metrics.turn_ended(labels, 0.0015, 0.0004)
    return (time.process_time() - started) / iterations * 1e6


def header_against_client(fake: Endpoint, server: Server, pairs: int) -> Report:
    """One client alternating direct and through-server requests: the added latency it saw
    against the overhead the server reported for the same request."""
    body = chat_body(False)
    added: list[float] = []
    reported: list[float] = []
    direct_url = f"http://{fake.host}:{fake.port}/v1/chat/completions"
    server_url = f"http://{server.endpoint.host}:{server.endpoint.port}/v1/chat/completions"
    with (
        httpx2.Client(headers={"authorization": f"Bearer {fake.token}"}) as direct,
        httpx2.Client(headers={"authorization": f"Bearer {server.endpoint.token}"}) as through,
    ):
        for index in range(pairs + 20):
            started = time.perf_counter()
            direct.post(direct_url, json=body).raise_for_status()
            direct_ms = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            response = through.post(server_url, json=body)
            through_ms = (time.perf_counter() - started) * 1000
            response.raise_for_status()
            if index >= 20:  # warm-up: connections, caches
                added.append(through_ms - direct_ms)
                reported.append(float(response.headers["x-amplifier-overhead-ms"]))
    gaps = [a - r for a, r in zip(added, reported, strict=True)]
    return {
        "pairs": pairs,
        "client_added_ms_p50": round(statistics.median(added), 3),
        "header_overhead_ms_p50": round(statistics.median(reported), 3),
        "gap_ms_p50": round(statistics.median(gaps), 3),
        "gap_ms_p90": round(sorted(gaps)[int(len(gaps) * 0.9)], 3),
    }


def server_variants(
    command: list[str], baseline_src: str | None
) -> list[tuple[str, list[str], tuple[str, ...]]]:
    variants = [("metrics_on", command, ()), ("metrics_off", command, ("--no-metrics",))]
    if baseline_src:
        # `env` execs the interpreter, so the pid the benchmark reads is the server's own.
        pythonpath = f"PYTHONPATH={Path(baseline_src).resolve()}"
        variants.append(
            ("baseline", ["env", pythonpath, sys.executable, "-m", "amplifier_agent"], ())
        )
    return variants


def clock_us_per_model_call(iterations: int = 20_000, events: int = 6) -> float:
    """In process, what the overhead clock (on whether or not metrics are) adds to one model call
    of `events` stream events: the call's stream read through `RequestWatch` minus read bare."""
    import asyncio

    from amplifier_agent.core.observe import ModelCallInfo
    from amplifier_agent.core.stream import StreamEvent, TextDelta
    from amplifier_agent.server.request_watch import OverheadClock, RequestWatch

    info = ModelCallInfo("openai", "gpt-5")

    async def upstream() -> Any:
        for _ in range(events):
            yield TextDelta("tok ")

    async def read(watched: bool) -> float:
        started = time.process_time()
        for _ in range(iterations):
            stream: Any = upstream()
            if watched:
                stream = RequestWatch(OverheadClock(time.monotonic()), None).model_call(
                    info, stream
                )
            event: StreamEvent
            async for event in stream:
                del event
        return (time.process_time() - started) / iterations * 1e6

    async def both() -> float:
        return await read(True) - await read(False)

    return asyncio.run(both())


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=12, help="alternating CPU rounds")
    parser.add_argument("--requests", type=int, default=200, help="requests per CPU batch")
    parser.add_argument("--pairs", type=int, default=300, help="direct/through pairs")
    parser.add_argument(
        "--baseline-src",
        help="a `src` folder of another checkout (e.g. from `git archive main src`): a third "
        "server runs that code, for the cost of the whole feature",
    )
    parser.add_argument("--out", help="write the JSON report here as well")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    placement = Placement.plan()
    command = server_command(None, None)
    env_tracing = [k for k in os.environ if k.startswith("OTEL_")]
    if env_tracing:
        sys.exit(f"unset {', '.join(env_tracing)}: this benchmark measures with tracing off")
    with tempfile.TemporaryDirectory(prefix="metrics-bench-") as temp, ExitStack() as stack:
        fake = stack.enter_context(fake_upstream(placement))
        servers = {}
        for name, argv, extra in server_variants(command, args.baseline_src):
            home = Path(temp) / name
            home.mkdir()
            servers[name] = stack.enter_context(
                agent_server(argv, fake, placement, home, extra_args=extra)
            )
        script_fake(fake, text_reply())
        on = servers["metrics_on"]
        preempted = {name: preemptions(s.endpoint.pid) for name, s in servers.items()}
        started = time.monotonic()
        cpu = interleaved_cpu(fake, servers, placement, args.rounds, args.requests)
        header = header_against_client(fake, on, args.pairs)
        noise = {n: preemptions(s.endpoint.pid) - preempted[n] for n, s in servers.items()}
    work_us = metrics_work_us()
    clock_us = clock_us_per_model_call()
    report = {
        "benchmark": "metrics_overhead",
        "finished_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "server_commit": checkout_commit(command),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            **placement.to_json(),
            "server_preemptions": noise,
            "seconds": round(time.monotonic() - started, 1),
        },
        "params": {
            "rounds": args.rounds,
            "requests_per_batch": args.requests,
            "baseline_src": args.baseline_src,
        },
        "cpu": cpu,
        "metrics_work_us_per_request_in_process": round(work_us, 2),
        "overhead_clock_us_per_model_call_in_process": round(clock_us, 2),
        "metrics_work_percent_of_request_cpu": round(
            work_us / cpu["json"]["cpu_us_per_request_metrics_off"] * 100, 2
        ),
        "overhead_header": header,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
