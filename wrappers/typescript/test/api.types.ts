// Compile-only check that the hand-written declarations match the implementation modules.

import * as agent from "../src/agent.js";
import * as discovery from "../src/discovery.js";
import * as errors from "../src/errors.js";
import type * as api from "../src/index.js";
import * as models from "../src/models.js";

export const spawnAgent: typeof api.spawnAgent = agent.spawnAgent;
export const getEngineInfo: typeof api.getEngineInfo = discovery.getEngineInfo;
export const listModels: typeof api.listModels = models.listModels;
export const listAllModels: typeof api.listAllModels = models.listAllModels;
export const AgentErrorClass: typeof api.AgentError = errors.AgentError;

export async function usage(): Promise<string> {
  const handle: api.AgentHandle = await agent.spawnAgent({ sessionId: "s", approval: { mode: "no" } });
  for await (const event of handle.submit("hi")) {
    if (event.type === "result") return event.text;
    if (event.type === "error") return `${event.code} ${event.retryable}`;
  }
  return handle.getEngineInfo().engineVersion;
}
