// Version pins and the fixed timings and limits the wrapper contract names.

export const VERSION = "0.7.0";

/** Compared by strict string equality with the engine's `version --json` answer. */
export const PROTOCOL_VERSION_REQUIRED_BY_WRAPPER = "0.3.0";

/** A suggested turn timeout for callers; exported only, never applied by the wrapper. */
export const DEFAULT_TIMEOUT_MS = 600000;

export const PROBE_TIMEOUT_MS = 5000;
export const MODELS_TIMEOUT_MS = 15000;
export const ACTIVITY_INTERVAL_MS = 2000;
export const CANCEL_GRACE_MS = 5000;
export const PIPE_GRACE_MS = 250;
export const STDERR_TAIL_CHARS = 4096;
export const ENVELOPE_HEAD_BYTES = 512;

export const ENGINE_BINARY_NAME = "amplifier-agent";
export const BINARY_ENV_VAR = "AMPLIFIER_AGENT_BIN";
