"""The echo MCP server, made stubborn: it ignores SIGTERM and records its PID (for cancel tests)."""

from __future__ import annotations

import os
import runpy
import signal
from pathlib import Path

signal.signal(signal.SIGTERM, signal.SIG_IGN)
Path(os.environ["STUBBORN_PID_FILE"]).write_text(str(os.getpid()))
echo_server = Path(__file__).resolve().parents[2] / "tools" / "mcp_echo_server.py"
runpy.run_path(str(echo_server), run_name="__main__")
