"""Helpers for whole-process tests: the installed `amplifier-agent` binary run as a subprocess
against the loopback fake upstream, with its state root, HOME and cwd in temp directories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import httpx2
import pytest

from testkit import FakeUpstream
from tests.e2e.server_harness import RunningServer

AGENT_BIN = Path(sys.executable).with_name("amplifier-agent")
#: A fixed root model, so a run never depends on routing globs unless a test wants it to.
ROOT_MODEL = "claude-sonnet-4-5-20250929"
#: The nine protocol event types (§10.4), written out rather than imported from the engine.
EVENT_TYPES = frozenset(
    {
        "result/delta",
        "result/final",
        "tool/started",
        "tool/completed",
        "progress",
        "thinking/delta",
        "thinking/final",
        "usage",
        "error",
    }
)
RUN_TIMEOUT_S = 30.0
TIER_SAFE_TOKENS = 100_000

ProviderName = Literal["anthropic", "openai"]


@dataclass(frozen=True)
class RunResult:
    """What one `amplifier-agent` process did."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def stdout_lines(self) -> list[str]:
        return self.stdout.splitlines()

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.splitlines()

    def envelope(self) -> dict[str, Any]:
        """The single JSON envelope line on stdout (fails unless there is exactly one)."""
        lines = self.stdout_lines
        assert len(lines) == 1, f"expected one stdout line, got {lines!r}\nstderr:\n{self.stderr}"
        document = json.loads(lines[0])
        assert isinstance(document, dict)
        return document

    def notifications(self, *, strict: bool = True) -> list[dict[str, Any]]:
        """Every stderr line parsed as a JSON object; `strict` fails on any other line (log
        lines may legitimately interleave, §10.4), otherwise they are skipped."""
        parsed = []
        for line in self.stderr_lines:
            try:
                document = json.loads(line)
            except json.JSONDecodeError:
                if not strict:
                    continue
                pytest.fail(f"stderr line is not JSON: {line!r}\nstderr:\n{self.stderr}")
            assert isinstance(document, dict), line
            parsed.append(document)
        return parsed

    def methods(self) -> list[str]:
        return [n["method"] for n in self.notifications()]


class LiveProcess:
    """A running `amplifier-agent` whose output is read by background threads."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.pid = process.pid
        self._stdout: list[bytes] = []
        self._stderr: list[bytes] = []
        self._readers = [
            threading.Thread(target=self._pump, args=(process.stdout, self._stdout), daemon=True),
            threading.Thread(target=self._pump, args=(process.stderr, self._stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _pump(stream: Any, sink: list[bytes]) -> None:
        # Raw reads, not lines: an approval question ends without a newline.
        while chunk := os.read(stream.fileno(), 65536):
            sink.append(chunk)

    def stderr_so_far(self) -> str:
        return b"".join(self._stderr).decode("utf-8", "replace")

    def wait_for_stderr(self, needle: str, timeout: float = 15.0) -> None:
        wait_for(
            lambda: needle in self.stderr_so_far() or self.process.poll() is not None,
            timeout=timeout,
            message=f"{needle!r} on stderr",
        )
        assert needle in self.stderr_so_far(), self.stderr_so_far()

    def signal(self, signum: int) -> float:
        """Send `signum`; returns the monotonic time it was sent."""
        self.process.send_signal(signum)
        return time.monotonic()

    def finish(self, timeout: float = 15.0) -> tuple[RunResult, float]:
        """Wait for the exit; returns the result and the monotonic exit time."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"amplifier-agent did not exit within {timeout} s")
        ended = time.monotonic()
        for reader in self._readers:
            reader.join(5)
        stdout = b"".join(self._stdout).decode("utf-8", "replace")
        return RunResult(self.process.returncode, stdout, self.stderr_so_far()), ended

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class AgentCli:
    """Runs the installed binary with an environment pointing at the fake upstream."""

    def __init__(self, fake: FakeUpstream, root: Path, provider: ProviderName = "anthropic"):
        self.fake = fake
        self.provider = provider
        self.home = Path(os.environ["AMPLIFIER_AGENT_HOME"])
        self.user_home = Path(os.environ["HOME"])
        self.cwd = root / "work"
        self.cwd.mkdir(exist_ok=True)
        self.root = root

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env["AMPLIFIER_AGENT_HOME"] = str(self.home)
        env["HOME"] = str(self.user_home)
        env["PYTHONUNBUFFERED"] = "1"
        if self.provider == "anthropic":
            env.update(ANTHROPIC_API_KEY="sk-ant-test", ANTHROPIC_BASE_URL=self.fake.url)
        else:
            env.update(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=f"{self.fake.url}/v1")
        env.update(extra)
        return env

    def write_config(self, document: Any, name: str = "host_config.json") -> Path:
        path = self.root / name
        path.write_text(json.dumps(document), "utf-8")
        return path

    def config_with_model(self, model: str = ROOT_MODEL, **extra: Any) -> Path:
        """A host_config pinning the root model (and the provider module) plus `extra` keys."""
        provider_config = dict(extra.pop("provider_config", {}))
        provider_config.setdefault("default_model", model)
        document = {"provider": {"module": self.provider, "config": provider_config}, **extra}
        return self.write_config(document)

    def argv(self, args: Sequence[str], with_cwd: bool = True) -> list[str]:
        argv = [str(AGENT_BIN), *args]
        if with_cwd and args and args[0] == "run" and "--cwd" not in args:
            argv[2:2] = ["--cwd", str(self.cwd)]
        return argv

    def run(
        self,
        *args: str,
        stdin: Any = subprocess.DEVNULL,
        input: str | None = None,
        timeout: float = RUN_TIMEOUT_S,
        env: dict[str, str] | None = None,
    ) -> RunResult:
        completed = subprocess.run(
            self.argv(args),
            stdin=None if input is not None else stdin,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env or self.env(),
            cwd=self.cwd,
        )
        return RunResult(completed.returncode, completed.stdout, completed.stderr)

    def spawn(self, *args: str, env: dict[str, str] | None = None) -> LiveProcess:
        """Start the binary without waiting; stdout and stderr are collected as they arrive."""
        process = subprocess.Popen(
            self.argv(args),
            env=env or self.env(),
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        return LiveProcess(process)

    # -- state on disk -------------------------------------------------------------------
    def session_dirs(self, session_id: str) -> list[Path]:
        return sorted(self.home.glob(f"state/workspaces/*/sessions/{session_id}"))

    def session_dir(self, session_id: str) -> Path:
        found = self.session_dirs(session_id)
        assert len(found) == 1, f"expected one directory for {session_id}, got {found}"
        return found[0]

    def transcript(self, session_id: str) -> list[dict[str, Any]]:
        path = self.session_dir(session_id) / "transcript.jsonl"
        return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]

    def ledger(self) -> list[dict[str, Any]]:
        path = self.home / "state" / "usage.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]


@pytest.fixture
def agent(fake_upstream: FakeUpstream, tmp_path: Path) -> AgentCli:
    return AgentCli(fake_upstream, tmp_path)


@pytest.fixture
def engine(agent: AgentCli, monkeypatch: pytest.MonkeyPatch) -> AgentCli:
    """The host SDKs' environment: the real binary, the fake upstream as Anthropic."""
    monkeypatch.setenv("AMPLIFIER_AGENT_BIN", str(AGENT_BIN))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-wrapper-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", agent.fake.url)
    return agent


@pytest.fixture
def openai_agent(fake_upstream: FakeUpstream, tmp_path: Path) -> AgentCli:
    return AgentCli(fake_upstream, tmp_path, provider="openai")


# -- what the fake received ------------------------------------------------------------------
def anthropic_blocks(body: dict[str, Any], block_type: str) -> list[dict[str, Any]]:
    """Every content block of `block_type` across an Anthropic request's messages."""
    blocks = []
    for message in body["messages"]:
        content = message.get("content")
        if isinstance(content, list):
            blocks.extend(b for b in content if isinstance(b, dict) and b.get("type") == block_type)
    return blocks


def tool_result_text(block: dict[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, str):
        return content
    assert isinstance(content, list)
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


# -- waiting without fixed sleeps ---------------------------------------------------------
def wait_for(
    predicate: Callable[[], Any], *, timeout: float = 10.0, message: str = "condition"
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out after {timeout:g} s waiting for {message}")


def eventually(predicate: Callable[[], Any], *, timeout: float) -> bool:
    """Whether `predicate` becomes true within `timeout` seconds (polled, never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def descendants_running(command_fragment: str, ancestor: int) -> list[tuple[int, int]]:
    """(pid, pgid) of live processes below `ancestor` whose command line holds the fragment."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if (
            command_fragment in cmdline
            and fields[0] != "Z"
            and _descends(int(entry.name), ancestor)
        ):
            found.append((int(entry.name), int(fields[2])))
    return found


def _descends(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            return False
    return False


def group_gone(pgid: int) -> bool:
    """No live (non-zombie) process remains in process group `pgid`."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            return False
    return True


# -- prices, computed independently from genai-prices' per-million rates ---------------------
def expected_cost(model: str, usage: dict[str, int], provider_id: str = "anthropic") -> Decimal:
    """USD for one call from the model's per-million rates in the genai-prices snapshot.

    `usage` keys as the fake's `Reply.usage`: input (non-cached), output, cache_read, cache_write.
    """
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    _, model_info = snapshot.find_provider_model(model, None, provider_id, None)
    prices = model_info.get_prices(_now())
    rates = {
        "input": prices.input_mtok,
        "output": prices.output_mtok,
        "cache_read": prices.cache_read_mtok,
        "cache_write": prices.cache_write_mtok,
    }
    total = Decimal(0)
    for key, tokens in usage.items():
        rate = rates[key]
        if hasattr(rate, "tiers"):
            # Tiers start far above the token counts tests use: the base rate applies.
            assert all(tier.start > TIER_SAFE_TOKENS for tier in rate.tiers)
            rate = rate.base
        total += Decimal(tokens) * Decimal(str(rate or 0))
    return total / Decimal(1_000_000)


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def make_private_dirs(root: Path, directory: Path) -> None:
    """Create `directory` under `root` the way the engine would (0700 all the way down), so a
    hand-made session is not reported as too open."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in [directory, *directory.parents]:
        if path == root.parent or root not in (path, *path.parents):
            break
        path.chmod(0o700)


# -- the HTTP-face modules share one fake upstream per module; each defines its own `server` --
@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture
def fake(upstream: FakeUpstream) -> FakeUpstream:
    upstream.reset()
    return upstream


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx2.Client]:
    headers = {"authorization": f"Bearer {server.api_key}"}
    with httpx2.Client(base_url=server.url, headers=headers, timeout=20) as client:
        yield client
