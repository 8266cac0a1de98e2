"""One `codex exec` turn against our Responses face and the fake upstream, all three in this
process's network namespace; prints a JSON summary. The Codex test starts it inside
`unshare --net`:

    python -m tests.e2e.node.codex_driver SPEC.json

SPEC: `codex` (binary), `workdir` (Codex's and our server's cwd), `home` (isolated HOME; Codex's
state goes to `home/.codex`), `model`, `prompt`, `replies` (`Reply.to_json()` list for the fake),
`timeout_s`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.node.opencode_driver import STDERR_TAIL, _json_lines, bring_up_loopback, served

PROVIDER_ID = "amplifier"
KEY_VARIABLE = "AMPLIFIER_AGENT_TEST_KEY"


@dataclass(frozen=True)
class DriverSpec:
    codex: str
    workdir: Path
    home: Path
    model: str
    prompt: str
    replies: list[dict[str, Any]]
    timeout_s: float

    @classmethod
    def load(cls, path: Path) -> DriverSpec:
        data = json.loads(path.read_text("utf-8"))
        return cls(
            codex=data["codex"],
            workdir=Path(data["workdir"]),
            home=Path(data["home"]),
            model=data["model"],
            prompt=data["prompt"],
            replies=list(data.get("replies", [])),
            timeout_s=float(data.get("timeout_s", 120)),
        )


def codex_config(base_url: str, model: str) -> str:
    """A custom provider served by our Responses face (Codex accepts no other `wire_api`)."""
    return "\n".join(
        [
            f'model = "{model}"',
            f'model_provider = "{PROVIDER_ID}"',
            'approval_policy = "never"',
            'sandbox_mode = "danger-full-access"',
            "",
            f"[model_providers.{PROVIDER_ID}]",
            'name = "amplifier-agent"',
            f'base_url = "{base_url}"',
            f'env_key = "{KEY_VARIABLE}"',
            'wire_api = "responses"',
            "request_max_retries = 0",
            "stream_max_retries = 0",
            "",
        ]
    )


def codex_env(spec: DriverSpec, api_key: str) -> dict[str, str]:
    """Only what Codex needs: no inherited provider keys, its state under `home`."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(spec.home),
        "CODEX_HOME": str(spec.home / ".codex"),
        KEY_VARIABLE: api_key,
    }


def run_codex(spec: DriverSpec, env: dict[str, str]) -> dict[str, Any]:
    """`codex exec --json`, killed as a whole process group when it outlives `timeout_s`."""
    argv = [spec.codex, "exec", "--json", "--skip-git-repo-check", "-C", str(spec.workdir)]
    process = subprocess.Popen(
        [*argv, spec.prompt],
        cwd=spec.workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    started = time.monotonic()
    timed_out = False
    try:
        stdout, stderr = process.communicate(timeout=spec.timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
    events, other = _json_lines(stdout)
    return {
        "returncode": process.returncode,
        "timed_out": timed_out,
        "duration_s": round(time.monotonic() - started, 3),
        "events": events,
        "stdout_other": other,
        "stderr_tail": stderr[-STDERR_TAIL:],
    }


def drive(spec: DriverSpec) -> dict[str, Any]:
    codex_home = spec.home / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    with served(spec.home, spec.workdir, spec.replies) as running:
        config = codex_config(running.server.base_url, spec.model)
        (codex_home / "config.toml").write_text(config, "utf-8")
        version = subprocess.run(
            [spec.codex, "--version"],
            env=codex_env(spec, ""),
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
        outcome = run_codex(spec, codex_env(spec, running.server.api_key))
    return {"codex_version": version, "codex": outcome, **running.report()}


def main(argv: list[str]) -> int:
    bring_up_loopback()
    summary = drive(DriverSpec.load(Path(argv[1])))
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
