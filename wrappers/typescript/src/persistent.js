// PersistentAgentHandle: every turn of one session through one long-lived
// `amplifier-agent serve stdio` process, with the events and outcome objects of a one-shot turn.
//
// The engine starts when the handle is made (so its start-up overlaps the host's own work) and
// is started again by the next turn if it has died; the turn it died in ends with
// `engine_exit_<N>`.

import { CANCEL_GRACE_MS, PROTOCOL_VERSION_REQUIRED_BY_WRAPPER, VERSION } from "./constants.js";
import { MCP_CONFIG_VAR, removeMcpSpill, writeSpill } from "./environment.js";
import { AgentError, describe, newCorrelationId, startFailed } from "./errors.js";
import { buildStdioArgv, wantsNotifications } from "./options.js";
import {
  engineGoneError,
  finalNotification,
  hungError,
  rpcError,
  turnMetadata,
  turnResultEvent,
} from "./outcome.js";
import { within } from "./process.js";
import { EngineGone, RpcFailure, StdioConnection } from "./stdio.js";
import { TurnStream, supervise } from "./stream.js";

/**
 * @typedef {import("./index.js").AgentEvent} AgentEvent
 * @typedef {import("./agent.js").TurnSetup} TurnSetup
 * @typedef {{connection: StdioConnection, version: string}} Engine
 * @typedef {object} Turn
 * @property {string} turnId
 * @property {TurnStream} stream
 * @property {Engine | undefined} engine
 * @property {boolean} cancelRequested
 * @property {boolean} hung
 * @property {boolean} done
 * @property {Promise<void> | undefined} cancelling
 */

/** Every display event protocol 0.3.0 has: what `run --display ndjson` writes. */
export const DISPLAY_EVENTS = [
  "result/delta",
  "result/final",
  "tool/started",
  "tool/completed",
  "progress",
  "thinking/delta",
  "thinking/final",
  "usage",
  "error",
];

/**
 * One session whose turns all run in one `serve stdio` engine: `submit` once per turn (one at a
 * time), `cancel` the running one, `close` to stop the engine.
 */
export class PersistentAgentHandle {
  /**
   * @param {TurnSetup} setup
   * @param {import("./index.js").EngineInfo} info
   */
  constructor(setup, info) {
    this.setup = setup;
    this.info = info;
    this.turns = 0;
    /** @type {Turn | undefined} */
    this.turn = undefined;
    /** @type {Promise<void> | undefined} */
    this.task = undefined;
    this.closed = false;
    /** @type {string | null} */
    this.spill = null;
    /** @type {Engine | undefined} */
    this.engine = undefined;
    this.opening = this.openSoon();
  }

  get sessionId() {
    return this.setup.run.sessionId;
  }

  /** The running engine's process id (undefined while none runs). */
  get enginePid() {
    const connection = this.engine?.connection;
    return connection === undefined || connection.gone ? undefined : connection.pid;
  }

  getEngineInfo() {
    return { ...this.info };
  }

  /**
   * Start a turn now and return its events; refused while another turn runs.
   * @param {string} prompt
   * @returns {AsyncIterable<AgentEvent>}
   */
  submit(prompt) {
    if (this.closed) throw new AgentError("lifecycle_unsupported", "protocol", "the agent has been closed");
    if (this.turn !== undefined && !this.turn.done) {
      throw new AgentError(
        "session_busy",
        "protocol",
        "a turn is already running on this agent; wait for its result or cancel it",
      );
    }
    this.turns += 1;
    /** @type {Turn} */
    const turn = {
      turnId: `turn-${this.turns}`,
      stream: new TurnStream(this.setup.onEvent),
      engine: undefined,
      cancelRequested: false,
      hung: false,
      done: false,
      cancelling: undefined,
    };
    turn.stream.emit({ type: "init", sessionId: this.sessionId, engineInfo: this.getEngineInfo() });
    this.turn = turn;
    this.task = this.run(prompt, turn).finally(() => {
      turn.done = true;
    });
    return turn.stream.events(
      () => turn.done,
      () => this.cancel(),
    );
  }

  /**
   * Stop the running turn (`turn/cancel`; an engine that does not answer within 5 s is
   * terminated); resolves once it ended. A no-op when no turn is running.
   * @returns {Promise<void>}
   */
  async cancel() {
    const turn = this.turn;
    if (turn === undefined || turn.done) return;
    turn.cancelRequested = true; // seen by a turn whose engine is still starting
    this.beginCancel(turn);
    await this.task;
  }

  /** Cancel a running turn, then end the engine's input so it exits (terminated after 5 s). */
  async close() {
    this.closed = true;
    await this.cancel();
    const engine = await this.opening.catch(() => undefined);
    if (engine !== undefined) await engine.connection.close();
    if (this.spill !== null) {
      removeMcpSpill(this.spill);
      this.spill = null;
    }
  }

  // -- the engine ---------------------------------------------------------------------------

  /** @returns {Promise<Engine>} */
  openSoon() {
    const opening = this.open();
    opening.catch(() => {}); // a failure is reported by the turn that needs the engine
    return opening;
  }

  /**
   * The open engine, started anew if it died or could not be opened before.
   * @returns {Promise<Engine>}
   */
  async ready() {
    const engine = await this.opening.catch(() => undefined);
    if (engine === undefined || engine.connection.gone) this.opening = this.openSoon();
    return this.opening;
  }

  /** @returns {Promise<Engine>} */
  async open() {
    const { setup } = this;
    const env = { ...setup.env };
    if (setup.mcpDocument !== null) {
      this.spill ??= writeSpill(setup.mcpDocument, this.sessionId, setup.parentEnv);
      env[MCP_CONFIG_VAR] = this.spill;
    }
    let connection;
    try {
      const argv = buildStdioArgv(setup.binary, setup.run);
      connection = await StdioConnection.start(argv, env, (message) => this.onNotification(message));
    } catch (error) {
      throw startFailed(setup.binary, error);
    }
    const mark = connection.stderrMark();
    let answer;
    try {
      answer = await connection.request("initialize", this.initializeParams());
    } catch (error) {
      if (error instanceof RpcFailure) {
        await connection.close();
        throw rpcError(error.error, connection.stderrSince(mark), undefined);
      }
      const tail = connection.stderrSince(mark);
      if (error instanceof EngineGone) throw engineGoneError(error.status, tail, undefined);
      throw error;
    }
    const version = answer?.serverInfo?.version;
    this.engine = { connection, version: typeof version === "string" ? version : "" };
    return this.engine;
  }

  initializeParams() {
    const { run } = this.setup;
    /** @type {Record<string, any>} */
    const params = {
      protocolVersion: PROTOCOL_VERSION_REQUIRED_BY_WRAPPER,
      clientInfo: { name: "amplifier-agent-ts", version: VERSION },
      capabilities: { display: { events: wantsNotifications(run) ? [...DISPLAY_EVENTS] : [] } },
      sessionId: run.sessionId,
    };
    if (run.resume) params.resume = true;
    if (run.allowProtocolSkew) params.allowProtocolSkew = true;
    return params;
  }

  /**
   * A notification of this session's running turn joins its stream; others are dropped.
   * @param {Record<string, any>} message
   */
  onNotification(message) {
    const turn = this.turn;
    const params = typeof message.params === "object" && message.params !== null ? message.params : {};
    if (turn === undefined || turn.done || params.sessionId !== this.sessionId) return;
    if ((params.turnId ?? turn.turnId) !== turn.turnId) return;
    turn.stream.deliver({ type: "notification", method: message.method, params });
  }

  // -- one turn -----------------------------------------------------------------------------

  /**
   * @param {string} prompt
   * @param {Turn} turn
   */
  async run(prompt, turn) {
    const correlationId = newCorrelationId();
    try {
      turn.engine = await this.ready();
      if (turn.cancelRequested) {
        throw new AgentError("cancelled", "engine", "the turn was cancelled before it started");
      }
      await this.submitTurn(turn.engine, prompt, turn, correlationId);
    } catch (error) {
      // The turn's outer edge: report, never leave the stream hanging.
      const failure =
        error instanceof AgentError ? error : new AgentError("internal", "engine", describe(error));
      turn.stream.emit(failure.toEvent());
    } finally {
      turn.stream.end();
    }
  }

  /**
   * @param {Engine} engine
   * @param {string} prompt
   * @param {Turn} turn
   * @param {string} correlationId
   */
  async submitTurn(engine, prompt, turn, correlationId) {
    const { connection } = engine;
    const { stream } = turn;
    const mark = connection.stderrMark();
    const started = Date.now();
    const params = { sessionId: this.sessionId, turnId: turn.turnId, prompt };
    let result;
    try {
      result = await supervise(
        connection.request("turn/submit", params),
        this.setup.timeoutMs,
        (event) => stream.emit(event),
        () => {
          turn.hung = true;
          this.beginCancel(turn);
        },
      );
    } catch (error) {
      await stream.settle();
      throw this.failure(error, turn, connection.stderrSince(mark), correlationId);
    }
    await stream.settle();
    if (typeof result !== "object" || result === null) result = {};
    if (!stream.sawFinal && wantsNotifications(this.setup.run)) {
      stream.deliver(finalNotification(result));
      await stream.settle();
    }
    const metadata = turnMetadata(result, Date.now() - started, engine.version, correlationId);
    stream.emit(turnResultEvent(result, metadata));
  }

  /**
   * @param {unknown} error
   * @param {Turn} turn
   * @param {string} stderrTail
   * @param {string} correlationId
   */
  failure(error, turn, stderrTail, correlationId) {
    if (turn.hung) return hungError(this.setup.timeoutMs, stderrTail, correlationId);
    if (error instanceof EngineGone) return engineGoneError(error.status, stderrTail, correlationId);
    if (error instanceof RpcFailure) return rpcError(error.error, stderrTail, correlationId);
    return error;
  }

  /** @param {Turn} turn */
  beginCancel(turn) {
    if (turn.engine !== undefined && turn.cancelling === undefined) {
      turn.cancelling = this.cancelTurn(turn.engine, turn.turnId);
    }
  }

  /**
   * @param {Engine} engine
   * @param {string} turnId
   */
  async cancelTurn(engine, turnId) {
    const request = engine.connection.request("turn/cancel", { sessionId: this.sessionId, turnId });
    const answered = await within(
      request.then(
        () => true,
        () => true, // the turn ended anyway, or the engine is gone and the turn fails with it
      ),
      CANCEL_GRACE_MS,
    );
    if (answered === undefined) await engine.connection.terminate(); // it cannot cancel: replace it
  }
}
