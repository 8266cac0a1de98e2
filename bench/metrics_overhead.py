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
SERVERS = ("metrics_on", "metrics_off")


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
    for round_index in range(rounds):
        # Swap which server goes first every round: neither always runs on a warmer machine.
        order = list(servers) if round_index % 2 == 0 else list(reversed(servers))
        for name in order:
            for kind in ("json", "stream"):
                samples[name][kind].append(
                    cpu_batch(fake, servers[name], placement, kind == "stream", n)
                )
    report: Report = {}
    for kind in ("json", "stream"):
        on, off = samples["metrics_on"][kind], samples["metrics_off"][kind]
        # Each round's two batches ran back to back: their ratio cancels the machine's drift.
        ratios = [a / b for a, b in zip(on, off, strict=True)]
        report[kind] = {
            "cpu_us_per_request_metrics_on": round(statistics.median(on), 1),
            "cpu_us_per_request_metrics_off": round(statistics.median(off), 1),
            "metrics_cost_percent_of_medians": round(
                (statistics.median(on) / statistics.median(off) - 1) * 100, 2
            ),
            "metrics_cost_percent_paired_median": round((statistics.median(ratios) - 1) * 100, 2),
            "samples_us": {name: [round(x, 1) for x in samples[name][kind]] for name in servers},
        }
    return report


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


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=12, help="alternating CPU rounds")
    parser.add_argument("--requests", type=int, default=200, help="requests per CPU batch")
    parser.add_argument("--pairs", type=int, default=300, help="direct/through pairs")
    parser.add_argument("--out", help="write the JSON report here as well")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    placement = Placement.plan()
    command = server_command(None, None)
    env_tracing = [k for k in os.environ if k.startswith("OTEL_")]
    if env_tracing:
        sys.exit(f"unset {', '.join(env_tracing)}: this benchmark measures with tracing off")
    with (
        tempfile.TemporaryDirectory(prefix="metrics-on-") as home_on,
        tempfile.TemporaryDirectory(prefix="metrics-off-") as home_off,
        fake_upstream(placement) as fake,
        agent_server(command, fake, placement, Path(home_on)) as on,
        agent_server(command, fake, placement, Path(home_off), ("--no-metrics",)) as off,
    ):
        script_fake(fake, text_reply())
        servers = {"metrics_on": on, "metrics_off": off}
        preempted = {name: preemptions(s.endpoint.pid) for name, s in servers.items()}
        started = time.monotonic()
        cpu = interleaved_cpu(fake, servers, placement, args.rounds, args.requests)
        header = header_against_client(fake, on, args.pairs)
        noise = {n: preemptions(s.endpoint.pid) - preempted[n] for n, s in servers.items()}
    work_us = metrics_work_us()
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
        "params": {"rounds": args.rounds, "requests_per_batch": args.requests},
        "cpu": cpu,
        "metrics_work_us_per_request_in_process": round(work_us, 2),
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
