// spawnAgent and the agent handle: validate, probe, then run one turn as one engine process and
// stream its events (init, notifications, activity, then exactly one result or error).

import { ACTIVITY_INTERVAL_MS } from "./constants.js";
import { errnoName, findBinary, probeEngine } from "./discovery.js";
import {
  MCP_CONFIG_VAR,
  checkEnvRequest,
  childEnv,
  encodeMcpServers,
  removeMcpSpill,
  writeMcpSpill,
} from "./environment.js";
import { AgentError, newCorrelationId } from "./errors.js";
import { approvalFlag, buildRunArgv, checkLifecycle, checkSessionId } from "./options.js";
import {
  envelopeError,
  findEnvelope,
  missingEnvelopeError,
  parseNotification,
  resultEvent,
  synthesizedFinal,
} from "./outcome.js";
import { EngineProcess } from "./process.js";

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

const END = Symbol("end");

/**
 * Validate the options, find and probe the engine, and return a one-shot handle.
 * @param {import("./index.js").SpawnAgentOptions} options
 * @returns {Promise<AgentHandle>}
 */
export async function spawnAgent(options) {
  checkLifecycle(options.lifecycle ?? "one-shot");
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
  return new AgentHandle({ binary, env, parentEnv, run, mcpDocument, timeoutMs, onEvent }, info);
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

/** A queue the turn pushes into and the consumer drains. */
class EventQueue {
  constructor() {
    /** @type {Array<AgentEvent | typeof END>} */
    this.items = [];
    /** @type {(() => void) | undefined} */
    this.wake = undefined;
  }

  /** @param {AgentEvent | typeof END} item */
  push(item) {
    this.items.push(item);
    this.wake?.();
  }

  /** @returns {Promise<AgentEvent | typeof END>} */
  async next() {
    while (this.items.length === 0) {
      await new Promise((resolve) => {
        this.wake = () => resolve(undefined);
      });
      this.wake = undefined;
    }
    return /** @type {AgentEvent | typeof END} */ (this.items.shift());
  }
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
    this.sawFinal = false;
    /** @type {Promise<unknown>[]} */
    this.pendingCallbacks = [];
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
    const queue = new EventQueue();
    queue.push({ type: "init", sessionId: this.sessionId, engineInfo: this.getEngineInfo() });
    this.turn = this.run(prompt, (event) => queue.push(event)).finally(() => {
      this.turnDone = true;
    });
    return this.drain(queue);
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

  /**
   * @param {EventQueue} queue
   * @returns {AsyncGenerator<AgentEvent>}
   */
  async *drain(queue) {
    try {
      for (;;) {
        const event = await queue.next();
        if (event === END) return;
        yield event;
      }
    } finally {
      if (!this.turnDone) await this.cancel(); // the consumer stopped listening
    }
  }

  beginTermination() {
    if (this.process !== undefined && this.termination === undefined) {
      this.termination = this.process.terminate();
    }
  }

  /**
   * @param {string} prompt
   * @param {(event: AgentEvent | typeof END) => void} emit
   */
  async run(prompt, emit) {
    /** @type {string | null} */
    let spill = null;
    const correlationId = newCorrelationId();
    try {
      const env = { ...this.setup.env };
      spill = this.writeSpill(env);
      const engine = await this.start(prompt, env, emit);
      const done = await this.supervise(engine, emit);
      if (this.termination !== undefined) await this.termination;
      await this.finish(done, correlationId, emit);
    } catch (error) {
      // The turn's outer edge: report, never leave the stream hanging.
      const failure =
        error instanceof AgentError ? error : new AgentError("internal", "engine", describe(error));
      emit(failure.toEvent());
    } finally {
      if (spill !== null) removeMcpSpill(spill);
      emit(END);
    }
  }

  /**
   * @param {Record<string, string>} env
   * @returns {string | null}
   */
  writeSpill(env) {
    const { mcpDocument, run, parentEnv } = this.setup;
    if (mcpDocument === null) return null;
    let path;
    try {
      path = writeMcpSpill(mcpDocument, run.sessionId, parentEnv);
    } catch (error) {
      throw new AgentError(
        "spawn_failed",
        "transport",
        `could not write the MCP config: ${errnoName(error)}`,
      );
    }
    env[MCP_CONFIG_VAR] = path;
    return path;
  }

  /**
   * @param {string} prompt
   * @param {Record<string, string>} env
   * @param {(event: AgentEvent) => void} emit
   * @returns {Promise<EngineProcess>}
   */
  async start(prompt, env, emit) {
    const argv = buildRunArgv(this.setup.binary, this.setup.run, prompt);
    let engine;
    try {
      engine = await EngineProcess.start(argv, env, (line) => this.onLine(line, emit));
    } catch (error) {
      throw new AgentError(
        "spawn_failed",
        "transport",
        `could not start ${this.setup.binary}: ${errnoName(error)}`,
      );
    }
    this.process = engine;
    if (this.cancelRequested) this.beginTermination();
    return engine;
  }

  /**
   * Wait for exit, emitting `activity` every 2 s and cancelling once the timeout passes.
   * @param {EngineProcess} engine
   * @param {(event: AgentEvent) => void} emit
   */
  async supervise(engine, emit) {
    const started = Date.now();
    const ticker = setInterval(
      () => emit({ type: "activity", elapsedMs: Date.now() - started }),
      ACTIVITY_INTERVAL_MS,
    );
    const { timeoutMs } = this.setup;
    const deadline =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            this.hung = true;
            this.beginTermination();
          }, timeoutMs);
    try {
      return await engine.wait();
    } finally {
      clearInterval(ticker);
      clearTimeout(deadline);
    }
  }

  /**
   * @param {string} line
   * @param {(event: AgentEvent) => void} emit
   */
  onLine(line, emit) {
    const event = parseNotification(line);
    if (event === null) return;
    if (event.method === "result/final") this.sawFinal = true;
    this.deliver(event, emit);
  }

  /**
   * Notifications go to `display.onEvent` when set, otherwise into the stream: never both.
   * @param {NotificationEvent} event
   * @param {(event: AgentEvent) => void} emit
   */
  deliver(event, emit) {
    const callback = this.setup.onEvent;
    if (callback === undefined) {
      emit(event);
      return;
    }
    try {
      const returned = callback(event);
      if (returned instanceof Promise) this.pendingCallbacks.push(returned.catch(reportCallbackError));
    } catch (error) {
      reportCallbackError(error); // a host callback must not break the turn
    }
  }

  async settleCallbacks() {
    const pending = this.pendingCallbacks;
    this.pendingCallbacks = [];
    await Promise.all(pending);
  }

  /**
   * The one closing event: the envelope is authoritative whatever the exit code.
   * @param {import("./process.js").Exit} done
   * @param {string} correlationId
   * @param {(event: AgentEvent) => void} emit
   */
  async finish(done, correlationId, emit) {
    await this.settleCallbacks();
    if (this.hung) {
      throw new AgentError(
        "engine_hung",
        "engine",
        `turn exceeded the ${this.setup.timeoutMs} ms timeout; the engine was cancelled`,
        {
          stderrTail: done.stderrTail,
          correlationId,
        },
      );
    }
    const envelope = findEnvelope(done.stdout);
    if (envelope === null) throw missingEnvelopeError(done, correlationId);
    if (envelope.error !== null) throw envelopeError(envelope, done.stderrTail);
    if (!this.sawFinal && (this.setup.run.displayMode ?? "").toLowerCase() === "ndjson") {
      this.deliver(synthesizedFinal(envelope), emit);
      await this.settleCallbacks();
    }
    emit(resultEvent(envelope));
  }
}

/** @param {unknown} error */
function describe(error) {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** @param {unknown} error */
function reportCallbackError(error) {
  process.emitWarning(`display.onEvent threw: ${String(error)}`);
}
