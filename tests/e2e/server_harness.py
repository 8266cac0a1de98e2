"""Start a real `amplifier-agent serve chat-completions` process on loopback for a test."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BANNER = re.compile(r"listening on (http://\S+)")
API_KEY = "sk-test-server-key-0123456789"


def engine_binary() -> str:
    return str(Path(sys.executable).with_name("amplifier-agent"))


@dataclass
class RunningServer:
    process: subprocess.Popen[str]
    url: str
    api_key: str
    stderr_lines: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=5)

    def stderr_text(self) -> str:
        return "".join(self.stderr_lines)


def server_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_"))}
    env.update(AMPLIFIER_AGENT_HOME=str(home / "state-root"), HOME=str(home))
    env.update(extra or {})
    return env


def write_config(path: Path, document: Mapping[str, Any]) -> Path:
    path.write_text(json.dumps(document))
    return path


@contextmanager
def running_server(
    config_path: Path,
    env: Mapping[str, str],
    *,
    cwd: Path,
    args: tuple[str, ...] = (),
    api_key: str = API_KEY,
    start_timeout: float = 30,
    key_in_env: bool = False,
) -> Iterator[RunningServer]:
    argv = [
        engine_binary(),
        "serve",
        "chat-completions",
        "--port",
        "0",
        "--config",
        str(config_path),
        "--log-level",
        "warning",
        *args,
    ]
    env = dict(env)
    if key_in_env:  # the way to keep a key out of `ps`: the environment, never argv
        env["AMPLIFIER_AGENT_HTTP_API_KEY"] = api_key
    else:
        argv += ["--api-key", api_key]
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    server = RunningServer(process, "", api_key)
    url_found = threading.Event()

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            server.stderr_lines.append(line)
            match = BANNER.search(line)
            if match and not url_found.is_set():
                server.url = match.group(1)
                url_found.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    deadline = time.monotonic() + start_timeout
    while not url_found.is_set():
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            reader.join(timeout=2)
            raise RuntimeError(f"server did not start:\n{server.stderr_text()}")
        url_found.wait(0.05)
    try:
        yield server
    finally:
        server.stop()
        reader.join(timeout=5)
