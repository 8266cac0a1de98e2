"""Version pins and the fixed timings and limits the wrapper contract names."""

from __future__ import annotations

__version__ = "0.3.0"

#: Compared by strict string equality with the engine's `version --json` answer.
PROTOCOL_VERSION_REQUIRED_BY_WRAPPER = "0.3.0"

#: A suggested turn timeout for callers; exported only, never applied by the wrapper.
DEFAULT_TIMEOUT_MS = 600_000

PROBE_TIMEOUT_MS = 5_000
MODELS_TIMEOUT_MS = 15_000
ACTIVITY_INTERVAL_MS = 2_000
CANCEL_GRACE_MS = 5_000
PIPE_GRACE_MS = 250
STDERR_TAIL_CHARS = 4_096
ENVELOPE_HEAD_BYTES = 512

ENGINE_BINARY_NAME = "amplifier-agent"
BINARY_ENV_VAR = "AMPLIFIER_AGENT_BIN"
