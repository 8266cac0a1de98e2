"""The sections of `http_hot_path.py`: each scripts the fake, runs load-client jobs and returns its
part of the report, with the headline numbers under `figures` and doubts under `warnings`.
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hotpath_client import percentile, summary, thread_cpu_seconds
from hotpath_procs import Endpoint, Placement, Server, job_spec, run_job, script_fake

Report = dict[str, Any]

MODEL = "gpt-5"
TEXT = "The quick brown fox jumps over the lazy dog."
#: Direct-to-fake throughput must be this many times ours for our figures to be the server's.
CLIENT_HEADROOM = 3.0
#: A stream stalls when two consecutive frames are further apart than this.
STALL_MS = 200.0
#: The latency bound of "RPS at p99 <= 50 ms".
RPS_P99_BOUND_MS = 50.0
#: Rounds of the Responses-versus-chat CPU comparison, alternating the faces.
ROUNDS = 3


@dataclass(frozen=True)
class Params:
    requests: int  # per target, for the interleaved latency and TTFT runs
    warmup: int
    gap_streams: int  # per target, paced at 10 ms per chunk
    rps_clients: tuple[int, ...]
    rps_seconds: float
    rps_warmup_s: float
    direct_seconds: float
    cpu_requests: int
    cpu_streams: int
    stall_levels: tuple[int, ...]


@dataclass
class Context:
    fake: Endpoint
    server: Server
    placement: Placement
    params: Params

    def job(self, kind: str, timeout_s: float, **fields: Any) -> Report:
        job = job_spec(kind, self.fake, self.server, **fields)
        return run_job(job, self.placement, timeout_s)


def chat_body(stream: bool) -> dict[str, Any]:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Say something short."}],
        "stream": stream,
    }


def text_reply(deltas: int | None = None, delay_s: float = 0.0) -> dict[str, Any]:
    """The fake's answer: TEXT in one delta, or `deltas` small ones, `delay_s` before each event."""
    block: dict[str, Any] = {"type": "text", "text": TEXT}
    if deltas is not None:
        block["chunks"] = ["tok "] * deltas
    return {"blocks": [block], "delay_s": delay_s}


def added(direct: list[float], through: list[float], fraction: float) -> float | None:
    if not direct or not through:
        return None
    return round(percentile(through, fraction) - percentile(direct, fraction), 3)


# -- sections -----------------------------------------------------------------------------------
def latency(ctx: Context) -> Report:
    """Non-streamed requests, one client, alternating fake / server."""
    p = ctx.params
    script_fake(ctx.fake, text_reply())
    result = ctx.job(
        "interleaved", 300, stream=False, body=chat_body(False),
        count=p.requests, warmup=p.warmup, max_s=240,
    )  # fmt: skip
    direct = result["samples"]["direct"]["latency_ms"]
    through = result["samples"]["server"]["latency_ms"]
    paired = [t - d for d, t in zip(direct, through, strict=False)]
    return {
        "rounds": result["rounds"],
        "direct": summary(direct),
        "through_server": summary(through),
        "figures": {
            "added_latency_p50_ms": added(direct, through, 0.5),
            "added_latency_p99_ms": added(direct, through, 0.99),
            "added_latency_paired_median_ms": round(statistics.median(paired), 3)
            if paired
            else None,
        },
    }


def stream(ctx: Context) -> Report:
    """Streamed requests, one client, alternating: TTFT against an instant fake, then the gaps
    between content deltas against a fake pacing 32 deltas at 10 ms."""
    p = ctx.params
    script_fake(ctx.fake, text_reply())
    first = ctx.job(
        "interleaved", 300, stream=True, body=chat_body(True),
        count=p.requests, warmup=p.warmup, max_s=240,
    )  # fmt: skip
    script_fake(ctx.fake, text_reply(deltas=32, delay_s=0.010))
    paced = ctx.job(
        "interleaved", 300, stream=True, body=chat_body(True),
        count=p.gap_streams, warmup=1, max_s=240,
    )  # fmt: skip
    ttft = {name: first["samples"][name]["ttft_ms"] for name in ("direct", "server")}
    gaps = {name: paced["samples"][name]["gaps_ms"] for name in ("direct", "server")}
    return {
        "ttft": {"direct": summary(ttft["direct"]), "through_server": summary(ttft["server"])},
        "chunk_gap_10ms": {
            "direct": summary(gaps["direct"]),
            "through_server": summary(gaps["server"]),
        },
        "figures": {
            "added_ttft_p50_ms": added(ttft["direct"], ttft["server"], 0.5),
            "added_ttft_p99_ms": added(ttft["direct"], ttft["server"], 0.99),
            "added_chunk_gap_p50_ms": added(gaps["direct"], gaps["server"], 0.5),
            "added_chunk_gap_p99_ms": added(gaps["direct"], gaps["server"], 0.99),
        },
    }


def cpu(ctx: Context) -> Report:
    """Server CPU time (utime + stime) over fixed batches, 4 clients: non-streamed requests (also
    split into the event-loop thread and the other threads, user and system), then streams of 4
    and of 64 deltas, whose difference prices one more frame."""
    p = ctx.params
    script_fake(ctx.fake, text_reply())
    ctx.job(
        "batch", 120, target="server", clients=4, requests=20, stream=False, body=chat_body(False)
    )
    threads_before = thread_cpu_seconds(ctx.server.endpoint.pid)
    plain = ctx.job(
        "batch", 600, target="server", clients=4, requests=p.cpu_requests,
        stream=False, body=chat_body(False),
    )  # fmt: skip
    threads_after = thread_cpu_seconds(ctx.server.endpoint.pid)
    by_thread = {
        key: round((threads_after[key] - threads_before[key]) / plain["requests"] * 1e3, 3)
        for key in threads_before
    }
    streams: dict[int, Report] = {}
    for deltas in (4, 64):
        script_fake(ctx.fake, text_reply(deltas=deltas))
        streams[deltas] = ctx.job(
            "batch", 600, target="server", clients=4, requests=p.cpu_streams,
            stream=True, body=chat_body(True),
        )  # fmt: skip
    per_request = plain["cpu_s"] / plain["requests"]
    small, large = (streams[k]["cpu_s"] / streams[k]["requests"] for k in (4, 64))
    frames = {k: streams[k]["frames"] / streams[k]["requests"] for k in (4, 64)}
    per_frame = (large - small) / (frames[64] - frames[4])
    return {
        "clock_tick_ms": round(1000 / os.sysconf("SC_CLK_TCK"), 3),
        "non_stream": plain,
        "non_stream_cpu_ms_per_request_by_thread": by_thread,
        "stream_4_deltas": streams[4],
        "stream_64_deltas": streams[64],
        "frames_per_stream": frames,
        "figures": {
            "cpu_ms_per_request": round(per_request * 1e3, 3),
            "cpu_ms_per_stream_request_64_deltas": round(large * 1e3, 3),
            "cpu_us_per_stream_frame": round(per_frame * 1e6, 1),
        },
    }


def responses_body(stream: bool, store: bool = False) -> dict[str, Any]:
    return {"model": MODEL, "input": "Say something short.", "stream": stream, "store": store}


def responses(ctx: Context) -> Report:
    """Server CPU per request of the Responses face beside the chat face, in the same run: the
    `cpu` batches, alternating between the faces for `ROUNDS` rounds (the median round counts),
    non-streamed (`store: false`, as Codex sends), streams of 64 deltas, and once non-streamed
    with `store: true` (which writes each response to disk)."""
    p = ctx.params
    faces = {
        "chat": ("/v1/chat/completions", chat_body),
        "responses": ("/v1/responses", responses_body),
    }
    script_fake(ctx.fake, text_reply())
    for path, body in faces.values():
        ctx.job(
            "batch", 120, target="server", clients=4, requests=20, stream=False,
            body=body(False), path=path,
        )  # fmt: skip
    rounds: dict[str, list[float]] = {}
    for stream, deltas in ((False, None), (True, 64)):
        script_fake(ctx.fake, text_reply(deltas=deltas))
        count = p.cpu_streams if stream else p.cpu_requests
        for _ in range(ROUNDS):
            for face, (path, body) in faces.items():
                result = ctx.job(
                    "batch", 600, target="server", clients=4, requests=count,
                    stream=stream, body=body(stream), path=path,
                )  # fmt: skip
                name = f"{face}_{'stream_64_deltas' if stream else 'non_stream'}"
                rounds.setdefault(name, []).append(result["cpu_s"] / result["requests"] * 1e3)
    script_fake(ctx.fake, text_reply())
    stored = ctx.job(
        "batch", 600, target="server", clients=4, requests=p.cpu_streams,
        stream=False, body=responses_body(False, store=True), path="/v1/responses",
    )  # fmt: skip
    ms = {name: round(statistics.median(values), 3) for name, values in rounds.items()}
    ms["responses_non_stream_store"] = round(stored["cpu_s"] / stored["requests"] * 1e3, 3)
    return {
        "rounds_cpu_ms_per_request": {k: [round(v, 3) for v in vs] for k, vs in rounds.items()},
        "cpu_ms_per_request": ms,
        "figures": {
            "responses_cpu_ms_per_request": ms["responses_non_stream"],
            "responses_vs_chat_cpu_ratio": _ratio(
                ms["responses_non_stream"], ms["chat_non_stream"]
            ),
            "responses_vs_chat_stream_cpu_ratio": _ratio(
                ms["responses_stream_64_deltas"], ms["chat_stream_64_deltas"]
            ),
        },
    }


def _ratio(ours: float, chat: float) -> float | None:
    return round(ours / chat, 3) if chat else None


def rps(ctx: Context) -> Report:
    """Closed-loop keep-alive clients, non-streamed, for a bounded time per step; the same step
    straight to the fake shows how far the client and the fake could go."""
    p = ctx.params
    steps: list[Report] = []
    for clients in p.rps_clients:
        script_fake(ctx.fake, text_reply())
        common = {"clients": clients, "body": chat_body(False)}
        direct = ctx.job(
            "closed_loop", 120, target="direct", duration_s=p.direct_seconds,
            warmup_s=min(p.rps_warmup_s, 0.5), **common,
        )  # fmt: skip
        through = ctx.job(
            "closed_loop", 180, target="server", duration_s=p.rps_seconds,
            warmup_s=p.rps_warmup_s, **common,
        )  # fmt: skip
        steps.append({"clients": clients, "through_server": through, "direct": direct})
    return {"steps": steps, **_rps_verdict(steps)}


def _rps_verdict(steps: list[Report]) -> Report:
    """The figures of the steps, and whether the client, errors or thin samples cast doubt."""
    through = [(s["clients"], s["through_server"]) for s in steps]
    within = [
        result["rps"]
        for _, result in through
        if not result["errors"] and result["latency"].get("p99_ms", math.inf) <= RPS_P99_BOUND_MS
    ]
    peak = max(result["rps"] for _, result in through)
    direct_peak = max(s["direct"]["rps"] for s in steps)
    warnings = [
        f"rps: {result['errors']} errors through the server at {clients} clients"
        for clients, result in through
        if result["errors"]
    ]
    warnings += [
        f"rps: only {result['latency']['count']} answers in the window at {clients} clients; "
        "a longer run (no --quick) gives a steadier figure"
        for clients, result in through
        if result["latency"]["count"] < 2 * clients
    ]
    limited = direct_peak < CLIENT_HEADROOM * peak
    if limited:
        warnings.append(
            f"rps: straight to the fake the client peaks at {direct_peak} rps, under "
            f"{CLIENT_HEADROOM:g}x the server's {peak}: the client or the fake may be the limit"
        )
    return {
        "client_limited": limited,
        "warnings": warnings,
        "figures": {
            "rps_at_p99_le_50ms": max(within, default=0.0),
            "peak_rps": peak,
            "direct_peak_rps": direct_peak,
        },
    }


def _stall_step(ctx: Context, target: str, count: int) -> Report:
    result = ctx.job("concurrent_streams", 180, target=target, streams=count, body=chat_body(True))
    gaps = result.pop("max_gap_ms")
    result["passed"] = (
        result["completed"] == count
        and not result["errors"]
        and max(gaps, default=math.inf) <= STALL_MS
    )
    result["max_gap"] = summary(gaps)
    result["first_frame"] = summary(result.pop("first_frame_ms"))
    frames = result.pop("frames")
    result["frames_min"] = min(frames, default=0)
    return result


def streams(ctx: Context) -> Report:
    """N concurrent streams of 64 deltas paced at 20 ms: the largest N with no gap over 200 ms
    between consecutive frames of any stream; each level is first run straight to the fake."""
    levels: list[Report] = []
    largest, warnings = 0, []
    for count in ctx.params.stall_levels:
        script_fake(ctx.fake, text_reply(deltas=64, delay_s=0.020))
        level: Report = {"streams": count, "direct": _stall_step(ctx, "direct", count)}
        levels.append(level)
        if not level["direct"]["passed"]:
            warnings.append(
                f"streams: {count} streams stall even straight to the fake; the client or the "
                "fake is the limit, so stall_free_streams is a lower bound"
            )
            break
        level["through_server"] = _stall_step(ctx, "server", count)
        if not level["through_server"]["passed"]:
            break
        largest = count
    return {
        "stall_gap_ms": STALL_MS,
        "levels": levels,
        "warnings": warnings,
        "figures": {"stall_free_streams": largest},
    }


SECTIONS: dict[str, Callable[[Context], Report]] = {
    "latency": latency,
    "stream": stream,
    "cpu": cpu,
    "responses": responses,
    "rps": rps,
    "streams": streams,
}
