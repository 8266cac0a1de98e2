"""The load client of `http_hot_path.py`: raw-socket HTTP/1.1 keep-alive connections on asyncio,
the statistics of its samples, and the server's CPU time from /proc.

Its per-request cost is a few tens of microseconds and the same for both targets (the fake
upstream called directly, and our server), so differences between the two are the server's.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

#: No single request may take longer than this; a stuck server fails the job instead of hanging.
REQUEST_TIMEOUT_S = 60.0


class BenchError(Exception):
    """A response the benchmark cannot use (wrong status, cut connection, malformed framing)."""


# -- statistics ---------------------------------------------------------------------------------
def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def summary(samples: list[float]) -> dict[str, float | int]:
    """p50/p90/p99/mean/min/max of millisecond samples, rounded to microseconds."""
    if not samples:
        return {"count": 0}
    return {
        "count": len(samples),
        "p50_ms": round(percentile(samples, 0.50), 3),
        "p90_ms": round(percentile(samples, 0.90), 3),
        "p99_ms": round(percentile(samples, 0.99), 3),
        "mean_ms": round(statistics.fmean(samples), 3),
        "min_ms": round(min(samples), 3),
        "max_ms": round(max(samples), 3),
    }


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat", "rb") as handle:
        fields = handle.read().rsplit(b")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)
    return ticks / os.sysconf("SC_CLK_TCK")


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """utime and stime of a process's main thread (the event loop) and of all its other threads
    together (the store writer, the SDKs' helpers), from /proc/PID/task/TID/stat."""
    split = {"loop_user": 0.0, "loop_system": 0.0, "others_user": 0.0, "others_system": 0.0}
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        who = "loop" if int(tid) == pid else "others"
        split[f"{who}_user"] += int(fields[11]) / tick
        split[f"{who}_system"] += int(fields[12]) / tick
    return split


# -- one connection -----------------------------------------------------------------------------
@dataclass
class Target:
    name: str
    host: str
    port: int
    token: str

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> Target:
        return cls(name, str(data["host"]), int(data["port"]), str(data["token"]))


@dataclass
class StreamTimes:
    """Arrival times (perf_counter seconds) of one streamed response."""

    started: float
    frames: list[float] = field(default_factory=list)
    first_content: float | None = None
    content: list[float] = field(default_factory=list)


class Connection:
    """One keep-alive connection to one target, reused for every request of a client."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    def request(self, body: bytes, path: str = "/v1/chat/completions") -> bytes:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.target.host}:{self.target.port}\r\n"
            f"Authorization: Bearer {self.target.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(
                self.target.host, self.target.port, limit=1 << 20
            )
        return self._reader, self._writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def post_json(self, request: bytes) -> float:
        """Seconds from writing a non-streamed request to its last body byte."""
        reader, writer = await self._open()
        started = time.perf_counter()
        writer.write(request)
        async for _ in self._body(reader):
            pass
        return time.perf_counter() - started

    async def post_stream(self, request: bytes) -> StreamTimes:
        """Arrival time of every SSE frame of a streamed request, read to its end."""
        reader, writer = await self._open()
        times = StreamTimes(started=time.perf_counter())
        writer.write(request)
        pending = b""
        async for chunk in self._body(reader):
            pending += chunk
            while b"\n\n" in pending:
                frame, pending = pending.split(b"\n\n", 1)
                now = time.perf_counter()
                times.frames.append(now)
                if _has_content(frame):
                    times.content.append(now)
                    if times.first_content is None:
                        times.first_content = now
        return times

    async def _body(self, reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            self.close()
            raise BenchError(f"{self.target.name}: connection lost before the response") from exc
        status, headers = _parse_head(head)
        if headers.get(b"connection") == b"close":
            self._reader = self._writer = None
        if b"content-length" in headers:
            body = await reader.readexactly(int(headers[b"content-length"]))
            if status != 200:
                raise BenchError(f"{self.target.name}: HTTP {status}: {body[:300]!r}")
            yield body
            return
        if status != 200:
            raise BenchError(f"{self.target.name}: HTTP {status}")
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = (await reader.readexactly(size + 2))[:-2]
            if size == 0:
                return
            yield chunk


def _parse_head(head: bytes) -> tuple[int, dict[bytes, bytes]]:
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name:
            headers[name.strip().lower()] = value.strip().lower()
    return status, headers


def _has_content(frame: bytes) -> bool:
    """A `data:` frame carrying a non-empty `delta.content` (the role chunk's `""` is not), or
    a Responses text delta."""
    if frame.startswith(b"event: response.output_text.delta\n"):
        return True
    if not frame.startswith(b"data: {") or b'"content"' not in frame:
        return False
    choices = json.loads(frame[6:]).get("choices") or [{}]
    return bool(choices[0].get("delta", {}).get("content"))
