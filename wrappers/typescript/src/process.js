// One engine process: spawned as its own group leader, stdout kept whole (or split into lines
// for `serve stdio`), stderr split into lines, and an exit that is observed even while a
// grandchild still holds the pipes.

import { spawn } from "node:child_process";
import { constants as osConstants } from "node:os";

import { CANCEL_GRACE_MS, PIPE_GRACE_MS, STDERR_TAIL_CHARS } from "./constants.js";

// Enough bytes that the last 4096 characters survive even if all of them are 4-byte UTF-8.
const TAIL_BYTES = STDERR_TAIL_CHARS * 4 + 64;
const NEWLINE = 0x0a;

/**
 * @typedef {import("node:stream").Readable} Readable
 * @typedef {import("node:stream").Writable} Writable
 * @typedef {import("node:child_process").ChildProcessByStdio<Writable | null, Readable, Readable>} Child
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

/** Process groups of long-lived engines, signalled when this process exits or is signalled. */
const longLivedGroups = new Set();
let orphanGuardInstalled = false;

function terminateLongLived() {
  for (const pgid of longLivedGroups) signalGroup(/** @type {number} */ (pgid), "SIGTERM");
  longLivedGroups.clear();
}

/**
 * Node cannot ask the kernel to signal a child when the host dies, so the host does it on its
 * way out: on `exit` and on the usual termination signals (re-raised afterwards when nobody else
 * listens, so the host still dies as it would have). A host killed with SIGKILL runs nothing;
 * the engine then sees end of input on stdin and exits by itself.
 */
function installOrphanGuard() {
  if (orphanGuardInstalled) return;
  orphanGuardInstalled = true;
  process.on("exit", terminateLongLived);
  for (const signal of /** @type {NodeJS.Signals[]} */ (["SIGINT", "SIGTERM", "SIGHUP"])) {
    const handler = () => {
      terminateLongLived();
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, handler);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, handler);
  }
}

/** Cuts a byte stream into lines (without `\n` or a trailing `\r`) for a sink. */
class LineSplitter {
  /** @param {((line: string) => void) | undefined} sink */
  constructor(sink) {
    this.sink = sink;
    /** @type {Buffer} */
    this.partial = Buffer.alloc(0);
  }

  /** @param {Buffer} chunk */
  feed(chunk) {
    let data = this.partial.length > 0 ? Buffer.concat([this.partial, chunk]) : chunk;
    let index;
    while ((index = data.indexOf(NEWLINE)) !== -1) {
      this.emit(data.subarray(0, index));
      data = data.subarray(index + 1);
    }
    this.partial = data;
  }

  flush() {
    if (this.partial.length > 0) this.emit(this.partial);
    this.partial = Buffer.alloc(0);
  }

  /** @param {Buffer} raw */
  emit(raw) {
    this.sink?.(raw.toString("utf8").replace(/\r$/, ""));
  }
}

export class EngineProcess {
  /**
   * Spawn detached (a new session, so PID == PGID); rejects with the spawn error (ENOENT, ...).
   *
   * With `onStdoutLine` the process is long-lived: its stdin is a pipe (`write`, `closeStdin`),
   * stdout is delivered line by line, it does not keep this process alive while idle
   * (`setBusy`), and it is sent SIGTERM when this process exits.
   * @param {string[]} argv
   * @param {Record<string, string>} env
   * @param {(line: string) => void} [onLine]
   * @param {(line: string) => void} [onStdoutLine]
   * @returns {Promise<EngineProcess>}
   */
  static start(argv, env, onLine, onStdoutLine) {
    const longLived = onStdoutLine !== undefined;
    const child = /** @type {Child} */ (
      spawn(argv[0] ?? "", argv.slice(1), {
        detached: true,
        stdio: [longLived ? "pipe" : "ignore", "pipe", "pipe"],
        env,
      })
    );
    return new Promise((resolve, reject) => {
      child.once("error", reject);
      child.once("spawn", () => {
        child.removeListener("error", reject);
        child.on("error", () => {}); // later errors (a failed kill) are reported by their caller
        child.stdin?.on("error", () => {}); // EPIPE once the engine is gone: its exit says why
        const engine = new EngineProcess(child, onLine, onStdoutLine);
        if (longLived) {
          installOrphanGuard();
          longLivedGroups.add(engine.pid);
          engine.exited.then(() => longLivedGroups.delete(engine.pid));
          engine.setBusy(false);
        }
        resolve(engine);
      });
    });
  }

  /**
   * @param {Child} child
   * @param {((line: string) => void) | undefined} onLine
   * @param {((line: string) => void) | undefined} onStdoutLine
   */
  constructor(child, onLine, onStdoutLine) {
    this.pid = /** @type {number} */ (child.pid);
    this.child = child;
    /** @type {Buffer[]} */
    this.stdoutChunks = [];
    this.tail = Buffer.alloc(0);
    /** Every stderr byte ever received, so a caller can take the tail written since a mark. */
    this.stderrTotal = 0;
    this.sealed = false;
    this.stderrLines = new LineSplitter(onLine);
    this.stdoutLines = onStdoutLine === undefined ? undefined : new LineSplitter(onStdoutLine);
    /** @type {Promise<number>} */
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        resolve(code ?? 128 + (signal ? osConstants.signals[signal] : 0));
      });
    });
    this.closed = Promise.all([streamDone(child.stdout), streamDone(child.stderr)]);
    child.stdout.on("data", (/** @type {Buffer} */ chunk) => {
      if (this.sealed) return;
      if (this.stdoutLines === undefined) this.stdoutChunks.push(chunk);
      else this.stdoutLines.feed(chunk);
    });
    child.stdout.once("end", () => {
      if (!this.sealed) this.stdoutLines?.flush();
    });
    child.stderr.on("data", (/** @type {Buffer} */ chunk) => this.onStderr(chunk));
    child.stderr.once("end", () => {
      if (!this.sealed) this.stderrLines.flush();
    });
    /** @type {Promise<Exit> | undefined} */
    this.waiting = undefined;
  }

  /** @param {Buffer} chunk */
  onStderr(chunk) {
    if (this.sealed) return;
    this.stderrTotal += chunk.length;
    this.tail = Buffer.concat([this.tail, chunk]);
    if (this.tail.length > TAIL_BYTES) this.tail = this.tail.subarray(this.tail.length - TAIL_BYTES);
    this.stderrLines.feed(chunk);
  }

  /**
   * A busy long-lived engine keeps this process alive; an idle one does not.
   * @param {boolean} busy
   */
  setBusy(busy) {
    const handles = [this.child, this.child.stdin, this.child.stdout, this.child.stderr];
    for (const handle of handles) {
      const refable = /** @type {{ref?: () => void, unref?: () => void} | null} */ (handle);
      if (busy) refable?.ref?.();
      else refable?.unref?.();
    }
  }

  /** @param {string} text */
  write(text) {
    const stdin = this.child.stdin;
    if (stdin !== null && stdin.writable) stdin.write(text);
  }

  closeStdin() {
    this.child.stdin?.end();
  }

  stderrMark() {
    return this.stderrTotal;
  }

  /**
   * The stderr written after `mark` (a past `stderrMark()`), at most the kept tail.
   * @param {number} mark
   */
  stderrSince(mark) {
    const count = Math.min(this.stderrTotal - mark, this.tail.length);
    return lastChars(this.tail.subarray(this.tail.length - count).toString("utf8"), STDERR_TAIL_CHARS);
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
