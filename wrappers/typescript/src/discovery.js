// Finding the engine binary and probing `version --json` against the wrapper's protocol pin.

import { accessSync, constants as fsConstants, statSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";

import {
  BINARY_ENV_VAR,
  ENGINE_BINARY_NAME,
  PROBE_TIMEOUT_MS,
  PROTOCOL_VERSION_REQUIRED_BY_WRAPPER,
} from "./constants.js";
import { checkEnvRequest, childEnv } from "./environment.js";
import { AgentError, errnoName } from "./errors.js";
import { collect } from "./process.js";

export const SKEW_REMEDIATION =
  "Install an engine that speaks wire protocol 0.3.0, or set allowProtocolSkew " +
  "(Python: allow_protocol_skew=True) to accept the difference.";
export const PROBE_REMEDIATION =
  "Check that the engine runs (`amplifier-agent version --json`), or set allowProtocolSkew " +
  "(Python: allow_protocol_skew=True) to continue without the probe.";
const DEFAULT_PATH = "/bin:/usr/bin";

/** @param {string} path */
function isExecutableFile(path) {
  try {
    accessSync(path, fsConstants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * `$AMPLIFIER_AGENT_BIN` verbatim, else `amplifier-agent` on PATH.
 * @param {NodeJS.ProcessEnv} parent
 * @returns {string}
 */
export function findBinary(parent) {
  const explicit = parent[BINARY_ENV_VAR];
  if (explicit) return explicit;
  for (const directory of (parent.PATH || DEFAULT_PATH).split(delimiter)) {
    const candidate = join(directory || ".", ENGINE_BINARY_NAME);
    if (isExecutableFile(candidate)) return resolve(candidate);
  }
  throw new AgentError("binary_not_found", "transport", `${ENGINE_BINARY_NAME} was not found on PATH`, {
    remediation: `Install ${ENGINE_BINARY_NAME} or set ${BINARY_ENV_VAR} to its path.`,
  });
}

/**
 * @param {import("./index.js").Classification} classification
 * @param {string} message
 * @param {string} [stderrTail]
 */
function probeFailed(classification, message, stderrTail) {
  /** @type {import("./errors.js").AgentErrorDetails} */
  const details = { remediation: PROBE_REMEDIATION };
  if (stderrTail !== undefined) details.stderrTail = stderrTail;
  return new AgentError("engine_probe_failed", classification, message, details);
}

/**
 * @param {string} binary
 * @param {Record<string, string>} env
 * @returns {Promise<import("./index.js").EngineInfo>}
 */
async function probe(binary, env) {
  let done;
  try {
    done = await collect([binary, "version", "--json"], env, PROBE_TIMEOUT_MS);
  } catch (error) {
    throw probeFailed("transport", `could not start ${binary}: ${errnoName(error)}`);
  }
  if (done === null) throw probeFailed("transport", `version --json timed out after ${PROBE_TIMEOUT_MS} ms`);
  if (done.code !== 0)
    throw probeFailed("transport", `version --json exited with code ${done.code}`, done.stderrTail);
  let document;
  try {
    document = JSON.parse(done.stdout.toString("utf8"));
  } catch {
    document = null;
  }
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw probeFailed("protocol", "version --json did not print a JSON object");
  }
  const { version, protocolVersion, bundleDigest } = document;
  if (!(typeof version === "string" && version && typeof protocolVersion === "string" && protocolVersion)) {
    throw probeFailed("protocol", "version --json lacks version or protocolVersion");
  }
  return {
    binaryPath: binary,
    protocolVersion,
    engineVersion: version,
    bundleDigest: typeof bundleDigest === "string" ? bundleDigest : "",
  };
}

/**
 * Probe once; with `allowSkew` failures are tolerated and versions are not compared.
 * @param {string} binary
 * @param {Record<string, string>} env
 * @param {boolean} allowSkew
 * @returns {Promise<import("./index.js").EngineInfo>}
 */
export async function probeEngine(binary, env, allowSkew) {
  let info;
  try {
    info = await probe(binary, env);
  } catch (error) {
    if (allowSkew && error instanceof AgentError) {
      return { binaryPath: binary, protocolVersion: "", engineVersion: "", bundleDigest: "" };
    }
    throw error;
  }
  if (!allowSkew && info.protocolVersion !== PROTOCOL_VERSION_REQUIRED_BY_WRAPPER) {
    throw new AgentError(
      "protocol_version_mismatch",
      "protocol",
      `the wrapper requires wire protocol ${PROTOCOL_VERSION_REQUIRED_BY_WRAPPER} but the engine speaks ${info.protocolVersion}`,
      { remediation: SKEW_REMEDIATION },
    );
  }
  return info;
}

/**
 * Find and probe the engine without starting a turn.
 * @param {{allowProtocolSkew?: boolean}} [options]
 * @returns {Promise<import("./index.js").EngineInfo>}
 */
export async function getEngineInfo(options = {}) {
  const binary = findBinary(process.env);
  return probeEngine(
    binary,
    childEnv(checkEnvRequest(undefined), process.env),
    options.allowProtocolSkew ?? false,
  );
}
