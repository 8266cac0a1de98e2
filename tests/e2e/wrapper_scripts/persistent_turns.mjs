// Turns through amplifier-agent-ts's persistent lifecycle against the real engine: one handle,
// one `serve stdio` process, every prompt in WRAPPER_PROMPTS (a JSON array) in turn; prints each
// turn's events and the engine's process id per turn.

import { spawnAgent } from "../../../wrappers/typescript/src/index.js";
import { print, required, turnOptions } from "./common.mjs";

const agent = await spawnAgent({ ...turnOptions(), lifecycle: "persistent" });
const turns = [];
const pids = [];
for (const prompt of JSON.parse(required("WRAPPER_PROMPTS"))) {
  const events = [];
  for await (const event of agent.submit(prompt)) events.push(event);
  turns.push(events);
  pids.push(agent.enginePid);
}
await agent.close();
print({ turns, pids });
