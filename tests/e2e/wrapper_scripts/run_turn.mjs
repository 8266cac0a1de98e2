// One turn through amplifier-agent-ts against the real engine; prints every event it yielded
// and the handle's engine info.

import { spawnAgent } from "../../../wrappers/typescript/src/index.js";
import { print, required, turnOptions } from "./common.mjs";

const agent = await spawnAgent(turnOptions());
const events = [];
for await (const event of agent.submit(required("WRAPPER_PROMPT"))) events.push(event);
print({ events, engineInfo: agent.getEngineInfo() });
