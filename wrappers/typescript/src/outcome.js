// Reading what the engine printed: NDJSON notifications on stderr and the envelope on stdout,
// and the rules that turn a finished process into one `result` or `error` event.

import { ENVELOPE_HEAD_BYTES, PROTOCOL_VERSION_REQUIRED_BY_WRAPPER } from "./constants.js";
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
 * @param {number | undefined} timeoutMs
 * @param {string} stderrTail
 * @param {string} correlationId
 */
export function hungError(timeoutMs, stderrTail, correlationId) {
  return new AgentError(
    "engine_hung",
    "engine",
    `turn exceeded the ${timeoutMs} ms timeout; the engine was cancelled`,
    { stderrTail, correlationId },
  );
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

// -- the persistent lifecycle: a `turn/submit` response instead of an envelope ----------------

/**
 * @param {Record<string, any>} result
 * @returns {Record<string, any>}
 */
function finalParams(result) {
  const final = result.finalEvent;
  return isObject(final) && isObject(final.params) ? final.params : {};
}

/**
 * @param {Record<string, any>} usage
 * @param {string} key
 * @returns {number}
 */
function count(usage, key) {
  return Number.isInteger(usage[key]) ? usage[key] : 0;
}

/**
 * The envelope's `metadata`, rebuilt from the turn totals in `finalEvent.params.usage`
 * (`tokensIn` counts cached input too, as `run` does).
 * @param {Record<string, any>} result
 * @param {number} durationMs
 * @param {string} engineVersion
 * @param {string} correlationId
 * @returns {Record<string, any>}
 */
export function turnMetadata(result, durationMs, engineVersion, correlationId) {
  const usage = isObject(finalParams(result).usage) ? finalParams(result).usage : {};
  const cacheRead = count(usage, "cacheReadTokens");
  const cacheWrite = count(usage, "cacheWriteTokens");
  /** @type {Record<string, any>} */
  const metadata = {
    tokensIn: count(usage, "inputTokens") + cacheRead + cacheWrite,
    tokensOut: count(usage, "outputTokens"),
    cacheReadTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
  };
  if (typeof usage.cost === "string") metadata.costUsd = usage.cost;
  return {
    ...metadata,
    durationMs,
    bundleDigest: "",
    engineVersion,
    protocolVersion: PROTOCOL_VERSION_REQUIRED_BY_WRAPPER,
    correlationId,
  };
}

/**
 * @param {Record<string, any>} result
 * @param {Record<string, any>} metadata
 * @returns {import("./index.js").ResultEvent}
 */
export function turnResultEvent(result, metadata) {
  return {
    type: "result",
    text: String(result.reply ?? ""),
    sessionId: typeof result.sessionId === "string" ? result.sessionId : "",
    metadata,
  };
}

/**
 * The `result/final` of a turn whose notification was not seen, from `finalEvent`.
 * @param {Record<string, any>} result
 * @returns {import("./index.js").NotificationEvent}
 */
export function finalNotification(result) {
  return { type: "notification", method: "result/final", params: finalParams(result), synthesized: true };
}

/**
 * A JSON-RPC error as the turn's `error`: the engine's wire code from `data`.
 * @param {Record<string, any>} error
 * @param {string} stderrTail
 * @param {string | undefined} correlationId
 */
export function rpcError(error, stderrTail, correlationId) {
  const data = isObject(error.data) ? error.data : {};
  /** @type {import("./errors.js").AgentErrorDetails} */
  const details = { stderrTail };
  if (correlationId !== undefined) details.correlationId = correlationId;
  if (typeof data.remediation === "string") details.remediation = data.remediation;
  return new AgentError(
    typeof data.code === "string" ? data.code : "internal",
    typeof data.classification === "string" ? data.classification : "engine",
    String(data.message || error.message || ""),
    details,
  );
}

/**
 * @param {number} status
 * @param {string} stderrTail
 * @param {string | undefined} correlationId
 */
export function engineGoneError(status, stderrTail, correlationId) {
  /** @type {import("./errors.js").AgentErrorDetails} */
  const details = { stderrTail };
  if (correlationId !== undefined) details.correlationId = correlationId;
  return new AgentError(
    `engine_exit_${status}`,
    "engine",
    `the engine process exited with code ${status} during the turn; the next turn starts a new one`,
    details,
  );
}
