// Public types of amplifier-agent-ts.

/** Compared by strict string equality with the engine's `version --json` answer. */
export declare const PROTOCOL_VERSION_REQUIRED_BY_WRAPPER: "0.3.0";
/** A suggested turn timeout; exported only, never applied by the wrapper. */
export declare const DEFAULT_TIMEOUT_MS: 600000;
/** This package's version. */
export declare const VERSION: "0.7.0";

export type Classification = "transport" | "protocol" | "engine" | "approval" | (string & {});
export type ApprovalMode = "yes" | "no" | "prompt";

export interface EngineInfo {
  binaryPath: string;
  protocolVersion: string;
  engineVersion: string;
  bundleDigest: string;
}

/** Always the first event, queued before the engine process starts. */
export interface InitEvent {
  type: "init";
  sessionId: string;
  engineInfo: EngineInfo;
}

/** One NDJSON notification line from the engine's stderr (see the protocol's display events). */
export interface NotificationEvent {
  type: "notification";
  method: string;
  params: Record<string, any>;
  /** Set on the `result/final` the wrapper made up because the engine sent none. */
  synthesized?: true;
}

/** Emitted every 2 s while the engine runs. */
export interface ActivityEvent {
  type: "activity";
  elapsedMs: number;
}

export interface ResultEvent {
  type: "result";
  text: string;
  sessionId: string;
  /** The envelope's metadata (tokensIn, tokensOut, costUsd, durationMs, ...). */
  metadata: Record<string, any>;
}

export interface ErrorEvent {
  type: "error";
  code: string;
  classification: Classification;
  severity: "error";
  correlationId: string;
  message: string;
  retryable: boolean;
  stderrTail?: string;
  remediation?: string;
}

export type AgentEvent = InitEvent | NotificationEvent | ActivityEvent | ResultEvent | ErrorEvent;

export interface EnvOptions {
  /** Names copied from this process's environment in addition to the built-in allowlist. */
  allowlist?: string[];
  /** Values set in the child's environment; they win over everything else. */
  extra?: Record<string, string>;
}

export interface DisplayOptions {
  /** When set, notifications go only here and never into `submit()`'s stream. */
  onEvent?: (event: NotificationEvent) => void | Promise<void>;
}

export interface SpawnAgentOptions {
  sessionId: string;
  /** `true` → `--resume`; `false` (default) → `--fresh`. */
  resume?: boolean;
  cwd?: string;
  env?: EnvOptions;
  /** Omitted or "yes" → `-y`; "no" → `-n`; "prompt" → no flag. Callbacks are refused. */
  approval?: { mode?: ApprovalMode } | ApprovalMode;
  display?: DisplayOptions;
  /** `--display` value; default "ndjson"; `null` omits the flag. */
  displayMode?: "ndjson" | "text" | null;
  workspace?: string;
  /** Written as `{"mcpServers": ...}` to a private file for the turn's lifetime. */
  mcpServers?: Record<string, unknown>;
  /** Opt-in turn timeout; on expiry the turn is cancelled and ends with `engine_hung`. */
  timeoutMs?: number;
  configPath?: string;
  allowProtocolSkew?: boolean;
  /** "one-shot" (default): one `run` process per turn, one turn per handle. "persistent": one
   * `serve stdio` process for every turn of the handle. */
  lifecycle?: "one-shot" | "persistent" | (string & {});
}

export interface AgentHandle {
  readonly sessionId: string;
  /** Starts the turn at once; the iterable yields `init` first and ends after `result` or `error`. */
  submit(prompt: string): AsyncIterable<AgentEvent>;
  /** SIGTERM to the group, 5 s, SIGKILL to the group; resolves once the turn has ended. */
  cancel(): Promise<void>;
  /** Cancels a running turn. */
  close(): Promise<void>;
  getEngineInfo(): EngineInfo;
}

/** Every turn of one session through one long-lived `serve stdio` engine process. */
export interface PersistentAgentHandle {
  readonly sessionId: string;
  /** The running engine's process id; undefined while none runs. */
  readonly enginePid: number | undefined;
  /** Starts a turn at once (one at a time: `session_busy` while another runs); the iterable
   * yields `init` first and ends after `result` or `error`. */
  submit(prompt: string): AsyncIterable<AgentEvent>;
  /** `turn/cancel`; an engine that does not answer within 5 s is terminated. Resolves once the
   * turn has ended. */
  cancel(): Promise<void>;
  /** Cancels a running turn and stops the engine (end of input, then SIGTERM/SIGKILL after 5 s). */
  close(): Promise<void>;
  getEngineInfo(): EngineInfo;
}

export interface ListModelsOptions {
  /** A provider id or module; omitted → the aggregate over the catalog. */
  provider?: string;
  timeoutMs?: number;
}

export declare class AgentError extends Error {
  constructor(
    code: string,
    classification: Classification,
    message: string,
    details?: { remediation?: string; stderrTail?: string; exitCode?: number | null; correlationId?: string },
  );
  readonly code: string;
  readonly classification: Classification;
  readonly severity: "error";
  readonly correlationId: string;
  readonly retryable: boolean;
  readonly remediation: string | undefined;
  readonly stderrTail: string | undefined;
  /** Set by `models_list_failed`. */
  readonly exitCode: number | null | undefined;
  toEvent(): ErrorEvent;
}

/** Validate the options, find and probe the engine, and return a handle for the lifecycle. */
export declare function spawnAgent(
  options: SpawnAgentOptions & { lifecycle: "persistent" },
): Promise<PersistentAgentHandle>;
export declare function spawnAgent(
  options: SpawnAgentOptions & { lifecycle?: "one-shot" },
): Promise<AgentHandle>;
export declare function spawnAgent(options: SpawnAgentOptions): Promise<AgentHandle | PersistentAgentHandle>;
/** Find and probe the engine without starting a turn. */
export declare function getEngineInfo(options?: { allowProtocolSkew?: boolean }): Promise<EngineInfo>;
/** `models list --output json [--provider p]`, parsed. */
export declare function listModels(options?: ListModelsOptions): Promise<any>;
/** The aggregate listing (also returned when the engine exits 2). */
export declare function listAllModels(options?: { timeoutMs?: number }): Promise<any>;
