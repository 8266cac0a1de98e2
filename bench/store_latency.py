"""What the PostgreSQL store adds to a served non-streamed turn, against the file store, in one
run, as a JSON report.

    python bench/store_latency.py [--quick] [--out PATH]

Two `serve chat-completions` processes share one loopback fake upstream: one keeps its sessions
in files, the other in a private PostgreSQL cluster (started here, durable settings: fsync on).
The client alternates requests between them one by one, so both see the same machine load. Each
request is one turn of a session (`x-session-id`), a session running `TURNS_PER_SESSION` turns
with its growing history before the next one starts, so every measured turn reads the session,
takes its lock, and commits its messages, metadata and ledger line.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hotpath_client import summary
from hotpath_procs import (
    SERVER_KEY,
    Placement,
    Server,
    agent_server,
    fake_upstream,
    script_fake,
    server_command,
)
from hotpath_sections import MODEL, text_reply

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from testkit.postgres import PostgresCluster, server_bin_dir

TURNS_PER_SESSION = 5


class Client:
    """A keep-alive connection to one server, running sessions turn by turn."""

    def __init__(self, server: Server, label: str) -> None:
        self.connection = http.client.HTTPConnection(server.endpoint.host, server.endpoint.port)
        self.label = label
        self.session = 0
        self.history: list[dict[str, Any]] = []
        self.samples: list[float] = []

    def turn(self, record: bool) -> None:
        if len(self.history) >= 2 * TURNS_PER_SESSION:
            self.session, self.history = self.session + 1, []
        self.history.append({"role": "user", "content": f"turn {len(self.history) // 2 + 1}"})
        body = json.dumps({"model": MODEL, "messages": self.history, "stream": False})
        headers = {
            "authorization": f"Bearer {SERVER_KEY}",
            "content-type": "application/json",
            "x-session-id": f"{self.label}-{self.session}",
        }
        started = time.perf_counter()
        self.connection.request("POST", "/v1/chat/completions", body, headers)
        response = self.connection.getresponse()
        payload = response.read()
        elapsed_ms = (time.perf_counter() - started) * 1000
        if response.status != 200:
            raise RuntimeError(f"{self.label}: HTTP {response.status}: {payload[:300]!r}")
        reply = json.loads(payload)["choices"][0]["message"]["content"]
        self.history.append({"role": "assistant", "content": reply})
        if record:
            self.samples.append(elapsed_ms)


def measure(requests: int, warmup: int) -> dict[str, Any]:
    bin_dir = server_bin_dir()
    if bin_dir is None:
        raise SystemExit("PostgreSQL server binaries not found (apt-get install postgresql)")
    placement = Placement.plan()
    command = server_command(None, None)
    with (
        tempfile.TemporaryDirectory(prefix="store-bench-") as tmp,
        PostgresCluster(bin_dir, durable=True) as cluster,
        fake_upstream(placement) as fake,
    ):
        script_fake(fake, text_reply())
        store_env = {"AMPLIFIER_AGENT_STORE_URL": cluster.create_database()}
        (Path(tmp) / "files").mkdir()
        (Path(tmp) / "pg").mkdir()
        with (
            agent_server(command, fake, placement, Path(tmp) / "files") as file_server,
            agent_server(command, fake, placement, Path(tmp) / "pg", store_env) as pg_server,
        ):
            clients = [Client(file_server, "files"), Client(pg_server, "postgresql")]
            for index in range(warmup + requests):
                for client in clients if index % 2 == 0 else reversed(clients):
                    client.turn(record=index >= warmup)
                    if index % 50 == 0:
                        script_fake(fake, text_reply())  # the fake forgets what it recorded
    files, pg = (summary(c.samples) for c in clients)
    return {
        "files": files,
        "postgresql": pg,
        "postgresql_added_ms": {
            key: round(pg[key] - files[key], 3) for key in ("p50_ms", "p90_ms", "p99_ms")
        },
        "placement": placement.to_json(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 turns per store, not 500")
    parser.add_argument("--out", help="also write the JSON report to this file")
    args = parser.parse_args()
    requests, warmup = (100, 10) if args.quick else (500, 30)
    report = {
        "benchmark": "store_latency",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "turns_per_store": requests,
        "turns_per_session": TURNS_PER_SESSION,
        "request": "POST /v1/chat/completions, stream false, x-session-id, growing history",
        **measure(requests, warmup),
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
