// Reading what the engine printed: NDJSON notifications on stderr and the envelope on stdout,
// and the rules that turn a finished process into one `result` or `error` event.

import { ENVELOPE_HEAD_BYTES } from "./constants.js";
import { AgentError } from "./errors.js";

/**
 * @typedef {Record<string, any>} Envelope
 */

/** @param {unknown} value */
function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** @param {string} text */
function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * A `notification` event for a JSON-RPC notification line; anything else is noise.
 * @param {string} line
 * @returns {import("./index.js").NotificationEvent | null}
 */
export function parseNotification(line) {
  const document = parseJson(line);
  if (!isObject(document) || typeof document.method !== "string") return null;
  return {
    type: "notification",
    method: document.method,
    params: isObject(document.params) ? document.params : {},
  };
}

/** @param {unknown} document */
function isEnvelope(document) {
  if (!isObject(document)) return false;
  const envelope = /** @type {Envelope} */ (document);
  if (typeof envelope.reply !== "string" || !("error" in envelope)) return false;
  return envelope.error === null || (isObject(envelope.error) && typeof envelope.error.code === "string");
}

/**
 * The last stdout line that is a well-formed envelope, if any.
 * @param {Buffer} stdout
 * @returns {Envelope | null}
 */
export function findEnvelope(stdout) {
  const lines = stdout.toString("utf8").split("\n");
  for (let index = lines.length - 1; index >= 0; index -= 1) {
    const line = /** @type {string} */ (lines[index]);
    if (line.trim() === "") continue;
    const document = parseJson(line);
    if (isEnvelope(document)) return document;
  }
  return null;
}

/**
 * @param {Envelope} envelope
 * @returns {import("./index.js").ResultEvent}
 */
export function resultEvent(envelope) {
  return {
    type: "result",
    text: envelope.reply,
    sessionId: typeof envelope.sessionId === "string" ? envelope.sessionId : "",
    metadata: isObject(envelope.metadata) ? envelope.metadata : {},
  };
}

/**
 * @param {Envelope} envelope
 * @param {string} stderrTail
 */
export function envelopeError(envelope, stderrTail) {
  const error = envelope.error;
  /** @type {import("./errors.js").AgentErrorDetails} */
  const details = { stderrTail };
  if (typeof error.remediation === "string") details.remediation = error.remediation;
  if (typeof error.correlationId === "string") details.correlationId = error.correlationId;
  const classification = typeof error.classification === "string" ? error.classification : "engine";
  return new AgentError(error.code, classification, String(error.message ?? ""), details);
}

/**
 * The `result/final` a consumer would have seen had the engine emitted one.
 * @param {Envelope} envelope
 * @returns {import("./index.js").NotificationEvent}
 */
export function synthesizedFinal(envelope) {
  return {
    type: "notification",
    method: "result/final",
    params: { sessionId: envelope.sessionId ?? "", turnId: envelope.turnId ?? "", text: envelope.reply },
    synthesized: true,
  };
}

/**
 * No envelope: a clean exit is a protocol breach, anything else is the engine's failure.
 * @param {import("./process.js").Exit} done
 * @param {string} correlationId
 */
export function missingEnvelopeError(done, correlationId) {
  if (done.code === 0) {
    const head = done.stdout.subarray(0, ENVELOPE_HEAD_BYTES).toString("utf8");
    return new AgentError(
      "envelope_missing",
      "protocol",
      `engine exited with code 0 without an envelope on stdout; stdout began: ${JSON.stringify(head)}`,
      { stderrTail: done.stderrTail, correlationId },
    );
  }
  return new AgentError(
    `engine_exit_${done.code}`,
    "engine",
    `engine exited with code ${done.code} without an envelope`,
    {
      stderrTail: done.stderrTail,
      correlationId,
    },
  );
}
