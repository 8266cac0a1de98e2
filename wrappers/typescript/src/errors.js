// AgentError, the one error type, and the rule deciding which errors are retryable.

import { randomUUID } from "node:crypto";

const RETRYABLE_CODES = new Set(["engine_hung", "runtime"]);

/**
 * Transport failures and hung or runtime turns may succeed when tried again.
 * @param {string} code
 * @param {string} classification
 */
export function isRetryable(code, classification) {
  return classification === "transport" || RETRYABLE_CODES.has(code);
}

export function newCorrelationId() {
  return randomUUID();
}

/**
 * @param {unknown} error
 * @returns {string}
 */
export function errnoName(error) {
  return String(/** @type {NodeJS.ErrnoException} */ (error)?.code ?? error);
}

/**
 * The engine binary could not be started (ENOENT, EACCES, ...).
 * @param {string} binary
 * @param {unknown} error
 */
export function startFailed(binary, error) {
  return new AgentError("spawn_failed", "transport", `could not start ${binary}: ${errnoName(error)}`);
}

/**
 * @typedef {object} AgentErrorDetails
 * @property {string} [remediation]
 * @property {string} [stderrTail]
 * @property {number | null} [exitCode]
 * @property {string} [correlationId]
 */

/** A failure reported by the wrapper or carried over from an engine envelope. */
export class AgentError extends Error {
  /**
   * @param {string} code
   * @param {import("./index.js").Classification} classification
   * @param {string} message
   * @param {AgentErrorDetails} [details]
   */
  constructor(code, classification, message, details = {}) {
    super(message);
    this.name = "AgentError";
    this.code = code;
    this.classification = classification;
    /** @type {"error"} */
    this.severity = "error";
    this.correlationId = details.correlationId ?? newCorrelationId();
    this.retryable = isRetryable(code, classification);
    this.remediation = details.remediation;
    this.stderrTail = details.stderrTail;
    this.exitCode = details.exitCode;
  }

  /**
   * The `error` event for this failure (optional fields only when known).
   * @returns {import("./index.js").ErrorEvent}
   */
  toEvent() {
    /** @type {import("./index.js").ErrorEvent} */
    const event = {
      type: "error",
      code: this.code,
      classification: this.classification,
      severity: this.severity,
      correlationId: this.correlationId,
      message: this.message,
      retryable: this.retryable,
    };
    if (this.stderrTail !== undefined) event.stderrTail = this.stderrTail;
    if (this.remediation !== undefined) event.remediation = this.remediation;
    return event;
  }
}

/**
 * `<ErrorName>: <message>` for an unexpected failure, as the `internal` error's message.
 * @param {unknown} error
 */
export function describe(error) {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
