"""Run a fake upstream as a process: prints `{"url": ...}` on stdout once it listens.

    python -m testkit [--host 127.0.0.1] [--port 0] [--default-text TEXT]

Script it over HTTP: `POST /_fake/script`, `GET /_fake/requests`, `POST /_fake/reset`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

import orjson

from testkit.script import reply_text
from testkit.server import FakeUpstream


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m testkit")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--default-text", default=None, help="answer every call with this text")
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with FakeUpstream(args.host, args.port) as fake:
        if args.default_text is not None:
            fake.set_default(reply_text(args.default_text))
        sys.stdout.write(orjson.dumps({"url": fake.url}).decode() + "\n")
        sys.stdout.flush()
        stop.wait()


if __name__ == "__main__":
    main()
