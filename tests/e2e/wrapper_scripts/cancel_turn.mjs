// Starts a turn through amplifier-agent-ts, cancels it on the first streamed text, and reports
// the events, how long cancel() took, and whether the engine's process and group are gone.

import { spawnAgent } from "../../../wrappers/typescript/src/index.js";
import {
  childPid,
  groupMembers,
  inProcessTable,
  print,
  processGroup,
  required,
  turnOptions,
} from "./common.mjs";

const options = turnOptions();
const agent = await spawnAgent(options);
const events = [];
let cancel;
for await (const event of agent.submit(required("WRAPPER_PROMPT"))) {
  events.push(event);
  if (cancel === undefined && event.type === "notification" && event.method === "result/delta") {
    const pid = childPid(`--session-id ${options.sessionId} `);
    const pgid = pid === undefined ? undefined : processGroup(pid);
    const started = performance.now();
    await agent.cancel();
    cancel = { pid, pgid, ms: performance.now() - started };
  }
}
const pid = cancel?.pid;
print({
  events,
  cancel: {
    ...cancel,
    inProcessTable: pid === undefined ? null : inProcessTable(pid),
    groupMembers: cancel?.pgid === undefined ? null : groupMembers(cancel.pgid),
  },
});
