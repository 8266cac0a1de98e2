// listModels / listAllModels: the engine's `models list --output json`, parsed.

import { MODELS_TIMEOUT_MS } from "./constants.js";
import { findBinary } from "./discovery.js";
import { checkEnvRequest, childEnv } from "./environment.js";
import { AgentError, errnoName } from "./errors.js";
import { collect } from "./process.js";

// Aggregate mode exits 2 when no provider answered, yet its per-provider rows are the answer.
const AGGREGATE_PARTIAL_EXIT = 2;

/**
 * @param {string} message
 * @param {number | null} exitCode
 * @param {string} stderrTail
 */
function failed(message, exitCode, stderrTail) {
  return new AgentError("models_list_failed", "engine", message, { exitCode, stderrTail });
}

/**
 * One provider's listing, or (without `provider`) the aggregate over the catalog.
 * @param {import("./index.js").ListModelsOptions} [options]
 * @returns {Promise<any>}
 */
export async function listModels(options = {}) {
  const { provider, timeoutMs = MODELS_TIMEOUT_MS } = options;
  const binary = findBinary(process.env);
  const argv = [binary, "models", "list", "--output", "json"];
  if (provider !== undefined && provider !== null) argv.push("--provider", provider);
  let done;
  try {
    done = await collect(argv, childEnv(checkEnvRequest(undefined), process.env), timeoutMs);
  } catch (error) {
    throw new AgentError("spawn_failed", "transport", `could not start ${binary}: ${errnoName(error)}`);
  }
  if (done === null) throw failed(`models list timed out after ${timeoutMs} ms`, null, "");
  const accepted = provider === undefined || provider === null ? [0, AGGREGATE_PARTIAL_EXIT] : [0];
  if (!accepted.includes(done.code)) {
    throw failed(`models list exited with code ${done.code}`, done.code, done.stderrTail);
  }
  try {
    return JSON.parse(done.stdout.toString("utf8"));
  } catch {
    throw failed("models list did not print JSON", done.code, done.stderrTail);
  }
}

/**
 * The aggregate listing over every catalog provider.
 * @param {{timeoutMs?: number}} [options]
 * @returns {Promise<any>}
 */
export async function listAllModels(options = {}) {
  return listModels({ timeoutMs: options.timeoutMs ?? MODELS_TIMEOUT_MS });
}
