// A JSON-RPC 2.0 connection to one `amplifier-agent serve stdio` process: requests written as
// NDJSON lines on its stdin, responses matched by id, notifications handed to a callback, and
// every request still pending failed with `EngineGone` once the process has exited.

import { CANCEL_GRACE_MS } from "./constants.js";
import { EngineProcess, within } from "./process.js";

/** The engine answered a request with a JSON-RPC error object. */
export class RpcFailure extends Error {
  /** @param {Record<string, any>} error */
  constructor(error) {
    super(String(error.message ?? ""));
    this.error = error;
  }
}

/** The process exited (with `status`, 128 + signal when signalled) before answering. */
export class EngineGone extends Error {
  /** @param {number} status */
  constructor(status) {
    super(`the engine exited with code ${status}`);
    this.status = status;
  }
}

/**
 * @typedef {{resolve: (value: any) => void, reject: (error: Error) => void}} Pending
 */

export class StdioConnection {
  /**
   * Start the process (rejects with the spawn error) and watch for its exit.
   * @param {string[]} argv
   * @param {Record<string, string>} env
   * @param {(message: Record<string, any>) => void} notify
   * @returns {Promise<StdioConnection>}
   */
  static async start(argv, env, notify) {
    const connection = new StdioConnection(notify);
    const engine = await EngineProcess.start(argv, env, undefined, (line) => connection.onLine(line));
    connection.engine = engine;
    engine.exited.then(async (status) => {
      connection.status = status;
      // Responses written just before the exit may still be in the pipe: fail what is left
      // only once the pipes are drained.
      await engine.wait();
      for (const pending of connection.pending.values()) pending.reject(new EngineGone(status));
      connection.pending.clear();
    });
    return connection;
  }

  /** @param {(message: Record<string, any>) => void} notify */
  constructor(notify) {
    this.notify = notify;
    this.nextId = 1;
    /** @type {Map<number, Pending>} */
    this.pending = new Map();
    /** @type {EngineProcess | undefined} */
    this.engine = undefined;
    /** @type {number | undefined} */
    this.status = undefined;
  }

  get gone() {
    return this.status !== undefined;
  }

  get pid() {
    return this.process().pid;
  }

  /**
   * Send one request and wait for its result; rejects with `RpcFailure` or `EngineGone`.
   * @param {string} method
   * @param {Record<string, any>} params
   * @returns {Promise<any>}
   */
  request(method, params) {
    if (this.status !== undefined) return Promise.reject(new EngineGone(this.status));
    const id = this.nextId++;
    const engine = this.process();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      engine.setBusy(true);
      engine.write(`${JSON.stringify({ jsonrpc: "2.0", id, method, params })}\n`);
    }).finally(() => {
      this.pending.delete(id);
      if (this.pending.size === 0) engine.setBusy(false);
    });
  }

  stderrMark() {
    return this.process().stderrMark();
  }

  /** @param {number} mark */
  stderrSince(mark) {
    return this.process().stderrSince(mark);
  }

  /**
   * End of input lets the engine finish its turns and exit 0; after `graceMs` the group is
   * terminated (SIGTERM, then SIGKILL).
   * @param {number} [graceMs]
   */
  async close(graceMs = CANCEL_GRACE_MS) {
    const engine = this.process();
    engine.closeStdin();
    await within(engine.exited, graceMs);
    await engine.terminate();
  }

  async terminate() {
    await this.process().terminate();
  }

  process() {
    if (this.engine === undefined) throw new Error("the connection has not started");
    return this.engine;
  }

  /** @param {string} line */
  onLine(line) {
    if (line.trim() === "") return;
    let message;
    try {
      message = JSON.parse(line);
    } catch {
      process.emitWarning("skipped a stdout line of the engine that is not JSON");
      return;
    }
    if (typeof message !== "object" || message === null || Array.isArray(message)) return;
    if ("result" in message || "error" in message) this.answer(message);
    else if (typeof message.method === "string") this.notify(message);
  }

  /** @param {Record<string, any>} message */
  answer(message) {
    const pending = this.pending.get(message.id);
    if (pending === undefined) return; // an answer to a line it could not read (id null)
    const error = message.error;
    if (typeof error === "object" && error !== null) pending.reject(new RpcFailure(error));
    else pending.resolve(message.result);
  }
}
