// spawnAgent and the one-shot handle: validate, probe, then run one turn as one engine process
// and stream its events (init, notifications, activity, then exactly one result or error).

import { findBinary, probeEngine } from "./discovery.js";
import {
  MCP_CONFIG_VAR,
  checkEnvRequest,
  childEnv,
  encodeMcpServers,
  removeMcpSpill,
  writeSpill,
} from "./environment.js";
import { AgentError, describe, newCorrelationId, startFailed } from "./errors.js";
import { approvalFlag, buildRunArgv, checkLifecycle, checkSessionId, wantsNotifications } from "./options.js";
import {
  envelopeError,
  findEnvelope,
  hungError,
  missingEnvelopeError,
  parseNotification,
  resultEvent,
  synthesizedFinal,
} from "./outcome.js";
import { PersistentAgentHandle } from "./persistent.js";
import { EngineProcess } from "./process.js";
import { TurnStream, supervise } from "./stream.js";

/**
 * @typedef {import("./index.js").AgentEvent} AgentEvent
 * @typedef {import("./index.js").NotificationEvent} NotificationEvent
 * @typedef {(event: NotificationEvent) => unknown} OnEvent
 * @typedef {object} TurnSetup
 * @property {string} binary
 * @property {Record<string, string>} env
 * @property {NodeJS.ProcessEnv} parentEnv
 * @property {import("./options.js").RunOptions} run
 * @property {string | null} mcpDocument
 * @property {number | undefined} timeoutMs
 * @property {OnEvent | undefined} onEvent
 */

/**
 * Validate the options, find and probe the engine, and return a handle: one-shot (one `run`
 * process for one turn) or persistent (one `serve stdio` process for every turn).
 * @param {import("./index.js").SpawnAgentOptions} options
 * @returns {Promise<AgentHandle | PersistentAgentHandle>}
 */
export async function spawnAgent(options) {
  const lifecycle = checkLifecycle(options.lifecycle ?? "one-shot");
  const flag = approvalFlag(options.approval);
  const sessionId = checkSessionId(options.sessionId);
  const envRequest = checkEnvRequest(options.env);
  const onEvent = onEventCallback(options.display);
  const mcpDocument = encodeMcpServers(options.mcpServers);
  if (options.timeoutMs !== undefined && options.timeoutMs !== null && !(options.timeoutMs > 0)) {
    throw new RangeError("timeoutMs must be positive");
  }
  const parentEnv = { ...process.env };
  const env = childEnv(envRequest, parentEnv);
  const binary = findBinary(parentEnv);
  const allowProtocolSkew = options.allowProtocolSkew ?? false;
  const info = await probeEngine(binary, env, allowProtocolSkew);
  const run = {
    sessionId,
    resume: options.resume ?? false,
    cwd: options.cwd,
    configPath: options.configPath,
    displayMode: options.displayMode === undefined ? "ndjson" : options.displayMode,
    workspace: options.workspace,
    approvalFlag: flag,
    allowProtocolSkew,
  };
  const timeoutMs = options.timeoutMs ?? undefined;
  const setup = { binary, env, parentEnv, run, mcpDocument, timeoutMs, onEvent };
  return lifecycle === "persistent" ? new PersistentAgentHandle(setup, info) : new AgentHandle(setup, info);
}

/**
 * @param {import("./index.js").DisplayOptions | undefined} display
 * @returns {OnEvent | undefined}
 */
function onEventCallback(display) {
  const callback = display?.onEvent;
  if (callback !== undefined && callback !== null && typeof callback !== "function") {
    throw new TypeError("display.onEvent must be a function");
  }
  return callback ?? undefined;
}

/** One engine session for one turn: `submit` once, `cancel` at any time. */
export class AgentHandle {
  /**
   * @param {TurnSetup} setup
   * @param {import("./index.js").EngineInfo} info
   */
  constructor(setup, info) {
    this.setup = setup;
    this.info = info;
    /** @type {Promise<void> | undefined} */
    this.turn = undefined;
    this.turnDone = false;
    /** @type {EngineProcess | undefined} */
    this.process = undefined;
    /** @type {Promise<unknown> | undefined} */
    this.termination = undefined;
    this.cancelRequested = false;
    this.hung = false;
  }

  get sessionId() {
    return this.setup.run.sessionId;
  }

  getEngineInfo() {
    return { ...this.info };
  }

  /**
   * Start the turn now and return its events; a second call is `lifecycle_unsupported`.
   * @param {string} prompt
   * @returns {AsyncIterable<AgentEvent>}
   */
  submit(prompt) {
    if (this.turn !== undefined) {
      throw new AgentError("lifecycle_unsupported", "protocol", "a one-shot agent accepts a single submit");
    }
    const stream = new TurnStream(this.setup.onEvent);
    stream.emit({ type: "init", sessionId: this.sessionId, engineInfo: this.getEngineInfo() });
    this.turn = this.run(prompt, stream).finally(() => {
      this.turnDone = true;
    });
    return stream.events(
      () => this.turnDone,
      () => this.cancel(),
    );
  }

  /**
   * Stop the running turn (SIGTERM, 5 s, SIGKILL to the group); resolves once it ended.
   * @returns {Promise<void>}
   */
  async cancel() {
    if (this.turn === undefined || this.turnDone) return;
    this.cancelRequested = true; // seen by a turn whose process is still starting
    this.beginTermination();
    await this.turn;
  }

  /** Cancel a running turn; a one-shot handle holds nothing else. */
  async close() {
    await this.cancel();
  }

  beginTermination() {
    if (this.process !== undefined && this.termination === undefined) {
      this.termination = this.process.terminate();
    }
  }

  /**
   * @param {string} prompt
   * @param {TurnStream} stream
   */
  async run(prompt, stream) {
    /** @type {string | null} */
    let spill = null;
    const correlationId = newCorrelationId();
    try {
      const env = { ...this.setup.env };
      const { mcpDocument, run, parentEnv } = this.setup;
      if (mcpDocument !== null) {
        spill = writeSpill(mcpDocument, run.sessionId, parentEnv);
        env[MCP_CONFIG_VAR] = spill;
      }
      const engine = await this.start(prompt, env, stream);
      const emit = (/** @type {AgentEvent} */ event) => stream.emit(event);
      const done = await supervise(engine.wait(), this.setup.timeoutMs, emit, () => {
        this.hung = true;
        this.beginTermination();
      });
      if (this.termination !== undefined) await this.termination;
      await this.finish(done, correlationId, stream);
    } catch (error) {
      // The turn's outer edge: report, never leave the stream hanging.
      const failure =
        error instanceof AgentError ? error : new AgentError("internal", "engine", describe(error));
      stream.emit(failure.toEvent());
    } finally {
      if (spill !== null) removeMcpSpill(spill);
      stream.end();
    }
  }

  /**
   * @param {string} prompt
   * @param {Record<string, string>} env
   * @param {TurnStream} stream
   * @returns {Promise<EngineProcess>}
   */
  async start(prompt, env, stream) {
    const argv = buildRunArgv(this.setup.binary, this.setup.run, prompt);
    let engine;
    try {
      engine = await EngineProcess.start(argv, env, (line) => {
        const event = parseNotification(line);
        if (event !== null) stream.deliver(event);
      });
    } catch (error) {
      throw startFailed(this.setup.binary, error);
    }
    this.process = engine;
    if (this.cancelRequested) this.beginTermination();
    return engine;
  }

  /**
   * The one closing event: the envelope is authoritative whatever the exit code.
   * @param {import("./process.js").Exit} done
   * @param {string} correlationId
   * @param {TurnStream} stream
   */
  async finish(done, correlationId, stream) {
    await stream.settle();
    if (this.hung) throw hungError(this.setup.timeoutMs, done.stderrTail, correlationId);
    const envelope = findEnvelope(done.stdout);
    if (envelope === null) throw missingEnvelopeError(done, correlationId);
    if (envelope.error !== null) throw envelopeError(envelope, done.stderrTail);
    if (!stream.sawFinal && wantsNotifications(this.setup.run)) {
      stream.deliver(synthesizedFinal(envelope));
      await stream.settle();
    }
    stream.emit(resultEvent(envelope));
  }
}
