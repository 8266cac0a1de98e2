"""The load patterns of `http_hot_path.py`, run in their own (pinned) process.

    python bench/hotpath_jobs.py '{"kind": ...}'     # prints the job's result as one JSON object

A job names its kind (`interleaved`, `closed_loop`, `batch`, `concurrent_streams`), the targets
(`{"direct": {...}, "server": {...}}`, each host/port/token), the request `body` and its own
parameters. Every job is bounded by a request count or a duration, and every request by
`REQUEST_TIMEOUT_S`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from hotpath_client import (
    REQUEST_TIMEOUT_S,
    BenchError,
    Connection,
    StreamTimes,
    Target,
    cpu_seconds,
    summary,
)

Job = dict[str, Any]

#: After a batch, how long to wait before reading the server's CPU time, so work that ends just
#: after the last response (logging, ledger writes) is counted.
SETTLE_S = 0.3
#: The route a job posts to unless it names another (`path`).
CHAT_PATH = "/v1/chat/completions"


def _ms(seconds: float) -> float:
    return seconds * 1000.0


def _gaps(times: list[float]) -> list[float]:
    return [_ms(later - earlier) for earlier, later in itertools.pairwise(times)]


async def _timed(awaitable: Awaitable[Any]) -> Any:
    return await asyncio.wait_for(awaitable, REQUEST_TIMEOUT_S)


async def interleaved(job: Job, targets: dict[str, Target]) -> dict[str, Any]:
    """One client alternating between the targets, request by request, so both see the same
    machine load; the order flips every round so neither always goes first."""
    connections = [Connection(targets["direct"]), Connection(targets["server"])]
    request = {
        c.target.name: c.request(job["body"], job.get("path", CHAT_PATH)) for c in connections
    }
    samples: dict[str, dict[str, list[float]]] = {
        c.target.name: {"latency_ms": [], "ttft_ms": [], "gaps_ms": []} for c in connections
    }
    deadline = time.monotonic() + float(job["max_s"])
    rounds = 0
    for index in range(int(job["warmup"]) + int(job["count"])):
        if time.monotonic() > deadline:
            break
        for connection in connections if index % 2 == 0 else connections[::-1]:
            name = connection.target.name
            if job["stream"]:
                times: StreamTimes = await _timed(connection.post_stream(request[name]))
                if times.first_content is None:
                    raise BenchError(f"{name}: the stream carried no content delta")
                if index >= job["warmup"]:
                    samples[name]["ttft_ms"].append(_ms(times.first_content - times.started))
                    samples[name]["gaps_ms"] += _gaps(times.content)
            else:
                elapsed: float = await _timed(connection.post_json(request[name]))
                if index >= job["warmup"]:
                    samples[name]["latency_ms"].append(_ms(elapsed))
        rounds += index >= job["warmup"]
    for connection in connections:
        connection.close()
    return {"rounds": rounds, "samples": samples}


@dataclass
class _Window:
    """The measured window of a closed loop: it opens once `warmup_s` has passed and every client
    has had its first answer (so connection set-up and a slow first round stay out), and lasts
    `duration_s`. Until it opens, `closes` is a hard stop that bounds the whole job."""

    clients: int
    warmup_s: float
    duration_s: float
    hard_stop: float
    started: float = field(default_factory=time.perf_counter)
    warmed: int = 0
    opens: float | None = None

    def first_answer(self, now: float) -> None:
        self.warmed += 1
        if self.warmed == self.clients:
            self.opens = max(self.started + self.warmup_s, now)

    @property
    def closes(self) -> float:
        return self.hard_stop if self.opens is None else self.opens + self.duration_s

    def holds(self, moment: float) -> bool:
        return self.opens is not None and self.opens <= moment <= self.closes


async def closed_loop(job: Job, targets: dict[str, Target]) -> dict[str, Any]:
    """`clients` keep-alive connections, each sending its next request as soon as the last one
    is answered (read to its end when `stream`); counts the responses that complete inside the
    measured window."""
    target = targets[job["target"]]
    clients, duration = int(job["clients"]), float(job["duration_s"])
    warmup = float(job["warmup_s"])
    window = _Window(clients, warmup, duration, time.perf_counter() + warmup + duration + 60)
    latencies: list[float] = []
    errors: list[str] = []

    async def client() -> None:
        connection = Connection(target)
        request = connection.request(job["body"], job.get("path", CHAT_PATH))
        send = connection.post_stream if job.get("stream") else connection.post_json
        answered = False
        while (sent := time.perf_counter()) < window.closes and len(errors) < 100:
            try:
                await _timed(send(request))
            except (BenchError, TimeoutError, OSError) as exc:
                errors.append(str(exc) or type(exc).__name__)
                connection.close()
                await asyncio.sleep(0.01)
                continue
            done = time.perf_counter()
            if not answered:
                answered = True
                window.first_answer(done)
            elif window.holds(done):
                latencies.append(_ms(done - sent))
        connection.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return {
        "clients": clients,
        "rps": round(len(latencies) / duration, 1),
        "window_s": duration if window.opens is not None else None,
        "latency": summary(latencies),
        "errors": len(errors),
        "first_errors": errors[:3],
    }


async def batch(job: Job, targets: dict[str, Target]) -> dict[str, Any]:
    """Exactly `requests` requests over `clients` connections, bracketed by readings of the
    server process's CPU time."""
    target = targets[job["target"]]
    remaining = int(job["requests"])
    frames = 0

    async def client() -> None:
        nonlocal remaining, frames
        connection = Connection(target)
        request = connection.request(job["body"], job.get("path", CHAT_PATH))
        while remaining > 0:
            remaining -= 1
            if job["stream"]:
                times: StreamTimes = await _timed(connection.post_stream(request))
                frames += len(times.frames)
            else:
                await _timed(connection.post_json(request))
        connection.close()

    before, started = cpu_seconds(job["pid"]), time.perf_counter()
    await asyncio.gather(*(client() for _ in range(int(job["clients"]))))
    wall = time.perf_counter() - started
    await asyncio.sleep(SETTLE_S)
    return {
        "requests": job["requests"],
        "frames": frames,
        "cpu_s": round(cpu_seconds(job["pid"]) - before, 3),
        "wall_s": round(wall, 3),
    }


async def concurrent_streams(job: Job, targets: dict[str, Target]) -> dict[str, Any]:
    """`streams` streamed requests at once, one connection each; per stream, the wait for its
    first frame and the largest gap between two consecutive frames after that."""
    target = targets[job["target"]]

    async def one() -> StreamTimes:
        connection = Connection(target)
        try:
            times: StreamTimes = await _timed(
                connection.post_stream(connection.request(job["body"], job.get("path", CHAT_PATH)))
            )
            return times
        finally:
            connection.close()

    outcomes = await asyncio.gather(
        *(one() for _ in range(int(job["streams"]))), return_exceptions=True
    )
    streams = [o for o in outcomes if isinstance(o, StreamTimes)]
    errors = [f"{type(o).__name__}: {o}" for o in outcomes if isinstance(o, BaseException)]
    return {
        "completed": len(streams),
        "errors": len(errors),
        "first_errors": errors[:3],
        "first_frame_ms": [_ms(s.frames[0] - s.started) for s in streams if s.frames],
        "max_gap_ms": [max(_gaps(s.frames), default=0.0) for s in streams],
        "frames": [len(s.frames) for s in streams],
    }


KINDS: dict[str, Callable[[Job, dict[str, Target]], Coroutine[Any, Any, dict[str, Any]]]] = {
    "interleaved": interleaved,
    "closed_loop": closed_loop,
    "batch": batch,
    "concurrent_streams": concurrent_streams,
}


def main() -> None:
    job = json.loads(sys.argv[1])
    job["body"] = json.dumps(job["body"]).encode()
    targets = {name: Target.from_json(name, data) for name, data in job["targets"].items()}
    try:
        result = asyncio.run(KINDS[job["kind"]](job, targets))
    except (BenchError, TimeoutError, OSError) as exc:
        sys.stderr.write(f"{job['kind']} failed: {type(exc).__name__}: {exc}\n")
        raise SystemExit(1) from None
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
