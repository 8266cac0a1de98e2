// amplifier-agent-ts: run amplifier-agent turns from Node (bring your own engine binary).

export { DEFAULT_TIMEOUT_MS, PROTOCOL_VERSION_REQUIRED_BY_WRAPPER, VERSION } from "./constants.js";
export { AgentError } from "./errors.js";
export { getEngineInfo } from "./discovery.js";
export { listAllModels, listModels } from "./models.js";
export { spawnAgent } from "./agent.js";
