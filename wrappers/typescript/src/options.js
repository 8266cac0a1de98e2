// Spawn options: validation that happens before any process starts, and the run argv.

import { PROTOCOL_VERSION_REQUIRED_BY_WRAPPER } from "./constants.js";
import { AgentError } from "./errors.js";

const SESSION_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** @type {Record<string, string | null>} */
const APPROVAL_FLAGS = { yes: "-y", no: "-n", prompt: null };

/**
 * @typedef {object} RunOptions
 * @property {string} sessionId
 * @property {boolean} resume
 * @property {string | undefined} cwd
 * @property {string | undefined} configPath
 * @property {string | null | undefined} displayMode
 * @property {string | undefined} workspace
 * @property {string | null} approvalFlag
 * @property {boolean} allowProtocolSkew
 */

const LIFECYCLES = ["one-shot", "persistent"];

/**
 * @param {unknown} lifecycle
 * @returns {"one-shot" | "persistent"}
 */
export function checkLifecycle(lifecycle) {
  if (typeof lifecycle !== "string" || !LIFECYCLES.includes(lifecycle)) {
    const message = 'the lifecycle must be "one-shot" or "persistent"';
    throw new AgentError("lifecycle_unsupported", "protocol", message);
  }
  return /** @type {"one-shot" | "persistent"} */ (lifecycle);
}

/**
 * Session ids become path components in the engine, so only the safe alphabet passes.
 * @param {unknown} sessionId
 * @returns {string}
 */
export function checkSessionId(sessionId) {
  if (typeof sessionId !== "string" || !SESSION_ID.test(sessionId) || /^\.+$/.test(sessionId)) {
    throw new AgentError(
      "invalid_session",
      "protocol",
      "session id must match ^[A-Za-z0-9._:-]{1,128}$ and not be all dots",
    );
  }
  return sessionId;
}

/**
 * Map the approval option to `-y`, `-n` or no flag; callbacks cannot cross the process.
 * @param {unknown} approval
 * @returns {string | null}
 */
export function approvalFlag(approval) {
  const isObject = typeof approval === "object" && approval !== null;
  const values = isObject ? Object.values(approval) : [];
  if (typeof approval === "function" || values.some((value) => typeof value === "function")) {
    throw new AgentError(
      "approval_not_supported_in_v1",
      "protocol",
      'approval callbacks are not supported by wire protocol 0.3.0; use approval mode "yes", "no" or "prompt"',
    );
  }
  const mode = isObject ? /** @type {{mode?: unknown}} */ (approval).mode : approval;
  if (mode === undefined || mode === null) return "-y";
  if (typeof mode === "string" && Object.hasOwn(APPROVAL_FLAGS, mode)) return APPROVAL_FLAGS[mode] ?? null;
  throw new AgentError("invalid_approval_mode", "protocol", 'approval mode must be "yes", "no" or "prompt"');
}

/**
 * @param {string} flag
 * @param {string | null | undefined} value
 * @returns {string[]}
 */
function optional(flag, value) {
  return value === undefined || value === null ? [] : [flag, String(value)];
}

/**
 * The normative `run` argv; `--` always precedes the prompt so it is never an option.
 * @param {string} binary
 * @param {RunOptions} options
 * @param {string} prompt
 * @returns {string[]}
 */
export function buildRunArgv(binary, options, prompt) {
  const argv = [binary, "run", "--session-id", options.sessionId, options.resume ? "--resume" : "--fresh"];
  argv.push(...optional("--cwd", options.cwd), ...optional("--config", options.configPath));
  argv.push("--output", "json");
  if (!options.allowProtocolSkew) argv.push("--protocol-version", PROTOCOL_VERSION_REQUIRED_BY_WRAPPER);
  argv.push(...optional("--display", options.displayMode), ...optional("--workspace", options.workspace));
  if (options.approvalFlag !== null) argv.push(options.approvalFlag);
  argv.push("--", prompt);
  return argv;
}

/**
 * Only `--display ndjson` makes the engine emit protocol notifications.
 * @param {RunOptions} options
 */
export function wantsNotifications(options) {
  return (options.displayMode ?? "").toLowerCase() === "ndjson";
}

/**
 * `serve stdio` takes `run`'s process-level options with the same meaning.
 * @param {string} binary
 * @param {RunOptions} options
 * @returns {string[]}
 */
export function buildStdioArgv(binary, options) {
  const argv = [binary, "serve", "stdio"];
  argv.push(...optional("--cwd", options.cwd), ...optional("--config", options.configPath));
  argv.push(...optional("--workspace", options.workspace));
  if (options.approvalFlag !== null) argv.push(options.approvalFlag);
  return argv;
}
