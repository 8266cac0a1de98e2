"""A host driving a real `amplifier-agent serve stdio` process: requests written as NDJSON lines to
its stdin, every stdout line collected by a thread and checked against `conformance/schemas`."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import threading
from typing import Any

import pytest

from tests.e2e.conftest import AgentCli, wait_for
from tests.wire.schemas import notification_problems, response_problems

PROTOCOL_VERSION = "0.3.0"
ALL_EVENTS = [
    "result/delta",
    "result/final",
    "tool/started",
    "tool/completed",
    "progress",
    "thinking/delta",
    "thinking/final",
    "usage",
    "error",
]


class StdioHost:
    """One `serve stdio` process and everything it wrote."""

    def __init__(self, agent: AgentCli, *args: str, env: dict[str, str] | None = None) -> None:
        self.agent = agent
        config = str(agent.config_with_model())
        argv = agent.argv(["serve", "stdio", "-y", "--config", config, "--cwd", str(agent.cwd)])
        self.process = subprocess.Popen(
            [*argv, *args],
            env=env or agent.env(),
            cwd=agent.cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.pid = self.process.pid
        self.messages: list[dict[str, Any]] = []
        self.raw_stdout = bytearray()
        self._stderr = bytearray()
        self._methods: dict[Any, str] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    # -- output ----------------------------------------------------------------------------
    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.raw_stdout += line
            with self._lock:
                self.messages.append(json.loads(line))

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        while chunk := os.read(self.process.stderr.fileno(), 65536):
            self._stderr += chunk

    @property
    def stderr(self) -> str:
        return self._stderr.decode("utf-8", "replace")

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.messages)

    def notifications(self, session_id: str | None = None) -> list[dict[str, Any]]:
        return [
            m
            for m in self.snapshot()
            if "method" in m and session_id in (None, m["params"].get("sessionId"))
        ]

    def response(self, request_id: Any, timeout: float = 20.0) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next((m for m in self.snapshot() if m.get("id", -1) == request_id), None)

        result: dict[str, Any] = wait_for(
            found, timeout=timeout, message=f"the response to {request_id}\n{self.stderr}"
        )
        return result

    def wait_for_notification(self, method: str, session_id: str, timeout: float = 20.0) -> None:
        wait_for(
            lambda: any(n["method"] == method for n in self.notifications(session_id)),
            timeout=timeout,
            message=f"{method} of {session_id}\n{self.stderr}",
        )

    # -- input -----------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def send(self, method: str, params: dict[str, Any] | None = None) -> int:
        """Write one request; returns its id."""
        request_id = next(self._ids)
        self._methods[request_id] = method
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}}
        self.write(json.dumps(message).encode() + b"\n")
        return request_id

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.response(self.send(method, params))

    def initialize(self, session_id: str = "s-a") -> dict[str, Any]:
        response = self.call(
            "initialize",
            {
                "protocolVersion": PROTOCOL_VERSION,
                "clientInfo": {"name": "tests", "version": "1"},
                "capabilities": {"display": {"events": ALL_EVENTS}},
                "sessionId": session_id,
            },
        )
        assert "result" in response, response
        return response

    def submit(self, session_id: str, turn_id: str, prompt: str) -> int:
        return self.send(
            "turn/submit", {"sessionId": session_id, "turnId": turn_id, "prompt": prompt}
        )

    def close_stdin(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()

    def finish(self, timeout: float = 20.0) -> int:
        """Wait for the exit; returns the exit code."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"serve stdio did not exit within {timeout} s\n{self.stderr}")
        for thread in self._threads:
            thread.join(5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    # -- the protocol's shapes -------------------------------------------------------------
    def schema_problems(self) -> list[str]:
        """Every message written, checked against its schema (responses by their request's
        method); also that each one took exactly one line."""
        problems = []
        for message in self.snapshot():
            if "method" in message:
                problems += notification_problems(message)
            else:
                method = self._methods.get(message.get("id"), "unknown")
                problems += response_problems(method, message)
        if self.raw_stdout.count(b"\n") != len(self.snapshot()):
            problems.append("stdout holds something other than one message per line")
        return problems
