// The child's environment (a fixed allowlist plus the caller's names) and the MCP spill file.

import {
  constants as fsConstants,
  closeSync,
  chmodSync,
  lstatSync,
  mkdirSync,
  openSync,
  rmdirSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";

import { AgentError, errnoName } from "./errors.js";

const BASE_NAMES = new Set(["PATH", "HOME", "USER", "LANG", "TERM", "TMPDIR"]);
const PASSED_PREFIXES = ["AMPLIFIER_", "LC_"];
const CATALOG_NAMES = new Set([
  "ANTHROPIC_API_KEY",
  "ANTHROPIC_BASE_URL",
  "OPENAI_API_KEY",
  "OPENAI_BASE_URL",
  "OPENAI_API_VERSION",
  "AZURE_OPENAI_API_KEY",
  "AZURE_OPENAI_KEY",
  "AZURE_OPENAI_ENDPOINT",
  "OLLAMA_HOST",
  "OLLAMA_BASE_URL",
  "CHAT_COMPLETIONS_BASE_URL",
  "CHAT_COMPLETIONS_API_KEY",
]);
// Names that would let a caller change which code the engine's interpreter loads.
const FORBIDDEN_NAMES = new Set([
  "PYTHONPATH",
  "PYTHONHOME",
  "PYTHONSTARTUP",
  "PYTHONNOUSERSITE",
  "LD_PRELOAD",
  "LD_LIBRARY_PATH",
  "DYLD_INSERT_LIBRARIES",
  "DYLD_LIBRARY_PATH",
  "PATH",
]);
const FORBIDDEN_PREFIXES = ["LD_", "DYLD_"];
export const MCP_CONFIG_VAR = "AMPLIFIER_MCP_CONFIG";

/**
 * @typedef {object} EnvRequest
 * @property {string[]} allowlist
 * @property {Array<[string, string]>} extra
 */

/** @param {string} message */
function rejected(message) {
  return new AgentError("env_injection_rejected", "protocol", message);
}

/** @param {unknown} name */
function checkName(name) {
  if (typeof name !== "string" || name === "" || name.includes("=") || name.includes("\0")) {
    throw rejected('environment variable names must be non-empty without "=" or NUL');
  }
  if (FORBIDDEN_NAMES.has(name) || FORBIDDEN_PREFIXES.some((prefix) => name.startsWith(prefix))) {
    throw rejected(`environment variable ${name} may not be passed to the engine`);
  }
}

/**
 * Validate `{allowlist, extra}`; runs before any process starts.
 * @param {import("./index.js").EnvOptions | undefined} env
 * @returns {EnvRequest}
 */
export function checkEnvRequest(env) {
  const allowlist = [...(env?.allowlist ?? [])];
  const extra = Object.entries(env?.extra ?? {});
  for (const name of [...allowlist, ...extra.map(([name]) => name)]) checkName(name);
  for (const [name, value] of extra) {
    if (typeof value !== "string") throw new TypeError(`env extra value for ${name} must be a string`);
    if (value.includes("\0")) throw rejected(`the value of ${name} contains NUL`);
  }
  return { allowlist, extra };
}

/**
 * The engine sees only the allowlisted part of `parent`, then `extra`, which wins.
 * @param {EnvRequest} request
 * @param {NodeJS.ProcessEnv} parent
 * @returns {Record<string, string>}
 */
export function childEnv(request, parent) {
  const wanted = new Set(request.allowlist);
  /** @type {Record<string, string>} */
  const env = {};
  for (const [name, value] of Object.entries(parent)) {
    if (value === undefined) continue;
    const passed =
      BASE_NAMES.has(name) ||
      CATALOG_NAMES.has(name) ||
      wanted.has(name) ||
      PASSED_PREFIXES.some((prefix) => name.startsWith(prefix));
    if (passed) env[name] = value;
  }
  for (const [name, value] of request.extra) env[name] = value;
  return env;
}

/**
 * Serialise eagerly so an unencodable value fails at spawn, not mid-turn.
 * @param {unknown} servers
 * @returns {string | null}
 */
export function encodeMcpServers(servers) {
  return servers === undefined || servers === null ? null : JSON.stringify({ mcpServers: servers });
}

/** @param {NodeJS.ProcessEnv} parent */
export function spillRoot(parent) {
  const runtime = parent.XDG_RUNTIME_DIR ?? "";
  return join(isAbsolute(runtime) ? runtime : tmpdir(), "amplifier-agent");
}

/**
 * A shared temp dir may hold a directory someone else planted under our name: refuse it.
 * @param {string} path
 */
function privateDir(path) {
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (error) {
    if (/** @type {NodeJS.ErrnoException} */ (error).code !== "EEXIST") throw error;
  }
  const info = lstatSync(path);
  if (!info.isDirectory() || info.uid !== process.getuid?.()) {
    throw Object.assign(new Error(`${path} is not a directory owned by this user`), { code: "EPERM" });
  }
  if ((info.mode & 0o777) !== 0o700) chmodSync(path, 0o700);
}

/**
 * Write `mcp.json` (0600) in a 0700 directory only this user owns.
 * @param {string} document
 * @param {string} sessionId
 * @param {NodeJS.ProcessEnv} parent
 * @returns {string}
 */
export function writeMcpSpill(document, sessionId, parent) {
  const root = spillRoot(parent);
  privateDir(root);
  const directory = join(root, sessionId);
  privateDir(directory);
  const path = join(directory, "mcp.json");
  try {
    unlinkSync(path);
  } catch {
    // absent is the normal case
  }
  const flags =
    fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | (fsConstants.O_NOFOLLOW ?? 0);
  const fd = openSync(path, flags, 0o600);
  try {
    writeSync(fd, document);
  } finally {
    closeSync(fd);
  }
  return path;
}

/**
 * `writeMcpSpill`, with a failure reported as the turn's `spawn_failed`.
 * @param {string} document
 * @param {string} sessionId
 * @param {NodeJS.ProcessEnv} parent
 * @returns {string}
 */
export function writeSpill(document, sessionId, parent) {
  try {
    return writeMcpSpill(document, sessionId, parent);
  } catch (error) {
    throw new AgentError("spawn_failed", "transport", `could not write the MCP config: ${errnoName(error)}`);
  }
}

/**
 * Unlink the spill file and its now-empty session directory; absent files are fine.
 * @param {string} path
 */
export function removeMcpSpill(path) {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
  try {
    rmdirSync(dirname(path));
  } catch {
    // not empty or already gone
  }
}
