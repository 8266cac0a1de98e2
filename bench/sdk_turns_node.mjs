// The TypeScript half of bench/sdk_turns.py: `node bench/sdk_turns_node.mjs <one-shot|persistent>
// <turns> <sessionId>` runs that many consecutive turns of one session through the SDK and prints
// `{"first_ms": ..., "later_ms": [...]}`. The environment names the engine and the provider.

import { spawnAgent } from "../wrappers/typescript/src/index.js";

const [mode, turnsArg, sessionId] = process.argv.slice(2);
const turns = Number(turnsArg);

/** One turn's events; the turn must end with the reply "ok". */
async function turn(handle, prompt) {
  let last;
  for await (const event of handle.submit(prompt)) last = event;
  if (last?.type !== "result" || last.text !== "ok") throw new Error(`turn failed: ${JSON.stringify(last)}`);
}

const elapsed = (started) => Number(process.hrtime.bigint() - started) / 1e6;
const samples = [];
if (mode === "persistent") {
  const started = process.hrtime.bigint();
  const handle = await spawnAgent({ sessionId, lifecycle: "persistent" });
  await turn(handle, "hi");
  samples.push(elapsed(started));
  for (let index = 1; index < turns; index += 1) {
    const begun = process.hrtime.bigint();
    await turn(handle, "hi");
    samples.push(elapsed(begun));
  }
  await handle.close();
} else {
  for (let index = 0; index < turns; index += 1) {
    const begun = process.hrtime.bigint();
    const handle = await spawnAgent({ sessionId, resume: index > 0 });
    await turn(handle, "hi");
    samples.push(elapsed(begun));
  }
}
process.stdout.write(`${JSON.stringify({ first_ms: samples[0], later_ms: samples.slice(1) })}\n`);
