// Compile-only check that the hand-written declarations match the implementation modules.

import * as agent from "../src/agent.js";
import * as discovery from "../src/discovery.js";
import * as errors from "../src/errors.js";
import type * as api from "../src/index.js";
import * as models from "../src/models.js";

type AnyHandle = api.AgentHandle | api.PersistentAgentHandle;
export const spawnAgent: (options: api.SpawnAgentOptions) => Promise<AnyHandle> = agent.spawnAgent;
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

export async function persistentUsage(): Promise<number> {
  const options = { sessionId: "s", lifecycle: "persistent" } as const;
  const handle: api.PersistentAgentHandle = await (agent.spawnAgent as typeof api.spawnAgent)(options);
  let count = 0;
  for await (const event of handle.submit("hi")) if (event.type === "notification") count += 1;
  await handle.close();
  return count + (handle.enginePid ?? 0);
}
