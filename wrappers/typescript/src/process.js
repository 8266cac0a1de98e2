// One engine process: spawned as its own group leader, stdout kept whole, stderr split into
// lines, and an exit that is observed even while a grandchild still holds the pipes.

import { spawn } from "node:child_process";
import { constants as osConstants } from "node:os";

import { CANCEL_GRACE_MS, PIPE_GRACE_MS, STDERR_TAIL_CHARS } from "./constants.js";

// Enough bytes that the last 4096 characters survive even if all of them are 4-byte UTF-8.
const TAIL_BYTES = STDERR_TAIL_CHARS * 4 + 64;
const NEWLINE = 0x0a;

/**
 * @typedef {import("node:stream").Readable} Readable
 * @typedef {import("node:child_process").ChildProcessByStdio<null, Readable, Readable>} Child
 */

/**
 * @typedef {object} Exit
 * @property {number} code 128 + signal for a signalled process
 * @property {Buffer} stdout
 * @property {string} stderrTail
 */

/**
 * Signal the whole process group; a group that is already gone is not an error.
 * @param {number} pgid
 * @param {NodeJS.Signals} signal
 */
export function signalGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    const code = /** @type {NodeJS.ErrnoException} */ (error).code;
    if (code !== "ESRCH" && code !== "EPERM") throw error;
  }
}

/**
 * Resolves with `promise`'s value, or with `undefined` after `ms` (the timer never lingers).
 * @template T
 * @param {Promise<T>} promise
 * @param {number} ms
 * @returns {Promise<T | undefined>}
 */
export function within(promise, ms) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Last characters of a string counted as code points, as Python slices them.
 * @param {string} text
 * @param {number} count
 */
function lastChars(text, count) {
  const chars = Array.from(text);
  return chars.length <= count ? text : chars.slice(-count).join("");
}

export class EngineProcess {
  /**
   * Spawn detached (a new session, so PID == PGID); rejects with the spawn error (ENOENT, ...).
   * @param {string[]} argv
   * @param {Record<string, string>} env
   * @param {(line: string) => void} [onLine]
   * @returns {Promise<EngineProcess>}
   */
  static start(argv, env, onLine) {
    const child = spawn(argv[0] ?? "", argv.slice(1), {
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env,
    });
    return new Promise((resolve, reject) => {
      child.once("error", reject);
      child.once("spawn", () => {
        child.removeListener("error", reject);
        child.on("error", () => {}); // later errors (a failed kill) are reported by their caller
        resolve(new EngineProcess(child, onLine));
      });
    });
  }

  /**
   * @param {Child} child
   * @param {((line: string) => void) | undefined} onLine
   */
  constructor(child, onLine) {
    this.pid = /** @type {number} */ (child.pid);
    this.child = child;
    /** @type {Buffer[]} */
    this.stdoutChunks = [];
    this.tail = Buffer.alloc(0);
    this.partial = Buffer.alloc(0);
    this.sealed = false;
    this.onLine = onLine;
    /** @type {Promise<number>} */
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        resolve(code ?? 128 + (signal ? osConstants.signals[signal] : 0));
      });
    });
    this.closed = Promise.all([streamDone(child.stdout), streamDone(child.stderr)]);
    child.stdout.on("data", (/** @type {Buffer} */ chunk) => {
      if (!this.sealed) this.stdoutChunks.push(chunk);
    });
    child.stderr.on("data", (/** @type {Buffer} */ chunk) => this.onStderr(chunk));
    child.stderr.once("end", () => this.flushPartial());
    /** @type {Promise<Exit> | undefined} */
    this.waiting = undefined;
  }

  /** @param {Buffer} chunk */
  onStderr(chunk) {
    if (this.sealed) return;
    this.tail = Buffer.concat([this.tail, chunk]);
    if (this.tail.length > TAIL_BYTES) this.tail = this.tail.subarray(this.tail.length - TAIL_BYTES);
    let data = Buffer.concat([this.partial, chunk]);
    let index;
    while ((index = data.indexOf(NEWLINE)) !== -1) {
      this.emit(data.subarray(0, index));
      data = data.subarray(index + 1);
    }
    this.partial = data;
  }

  flushPartial() {
    if (this.partial.length > 0 && !this.sealed) this.emit(this.partial);
    this.partial = Buffer.alloc(0);
  }

  /** @param {Buffer} raw */
  emit(raw) {
    this.onLine?.(raw.toString("utf8").replace(/\r$/, ""));
  }

  /**
   * Exit, then a short grace for the pipes; what a grandchild writes later is dropped.
   * @returns {Promise<Exit>}
   */
  wait() {
    this.waiting ??= (async () => {
      const code = await this.exited;
      await within(this.closed, PIPE_GRACE_MS);
      this.sealed = true;
      this.child.stdout.destroy();
      this.child.stderr.destroy();
      const stderrTail = lastChars(this.tail.toString("utf8"), STDERR_TAIL_CHARS);
      return { code, stdout: Buffer.concat(this.stdoutChunks), stderrTail };
    })();
    return this.waiting;
  }

  /**
   * SIGTERM the group, give it `graceMs` to exit, then SIGKILL whatever is left.
   * @param {number} [graceMs]
   * @returns {Promise<Exit>}
   */
  async terminate(graceMs = CANCEL_GRACE_MS) {
    signalGroup(this.pid, "SIGTERM");
    await within(this.exited, graceMs);
    // Members that ignored SIGTERM (or outlived the leader) would be orphans.
    signalGroup(this.pid, "SIGKILL");
    return this.wait();
  }
}

/**
 * @param {import("node:stream").Readable} stream
 * @returns {Promise<void>}
 */
function streamDone(stream) {
  return new Promise((resolve) => {
    if (stream.readableEnded || stream.destroyed) resolve();
    stream.once("close", () => resolve());
    stream.once("end", () => resolve());
  });
}

/**
 * Run to completion and return its exit, or kill the group and return null on timeout.
 * @param {string[]} argv
 * @param {Record<string, string>} env
 * @param {number} timeoutMs
 * @returns {Promise<Exit | null>}
 */
export async function collect(argv, env, timeoutMs) {
  const engine = await EngineProcess.start(argv, env);
  const done = await within(engine.wait(), timeoutMs);
  if (done !== undefined) return done;
  signalGroup(engine.pid, "SIGKILL");
  await engine.wait();
  return null;
}
