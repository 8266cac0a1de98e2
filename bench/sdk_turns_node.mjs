// The TypeScript half of bench/sdk_turns.py: `node bench/sdk_turns_node.mjs <one-shot|persistent>
// <turns> <sessionId>` runs that many consecutive turns of one session through the SDK and prints
// `{"first_ms": ..., "later_ms": [...], "cpu": {...}}` (a persistent run adds the CPU time per
// later turn of this process and of the engine). The environment names the engine and the
// provider.

import { readFileSync } from "node:fs";

import { spawnAgent } from "../wrappers/typescript/src/index.js";

const TICKS_PER_S = 100; // USER_HZ, the unit of utime and stime in /proc/<pid>/stat on Linux

/** User + system CPU milliseconds a live process has used so far. */
function processCpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(")").at(-1).trim().split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_S;
}

const hostCpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

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
let cpu = {};
if (mode === "persistent") {
  const started = process.hrtime.bigint();
  const handle = await spawnAgent({ sessionId, lifecycle: "persistent" });
  await turn(handle, "hi");
  samples.push(elapsed(started));
  const pid = handle.enginePid;
  const [hostBefore, engineBefore] = [hostCpuMs(), processCpuMs(pid)];
  for (let index = 1; index < turns; index += 1) {
    const begun = process.hrtime.bigint();
    await turn(handle, "hi");
    samples.push(elapsed(begun));
  }
  cpu = {
    host_cpu_ms_per_turn: (hostCpuMs() - hostBefore) / (turns - 1),
    engine_cpu_ms_per_turn: (processCpuMs(pid) - engineBefore) / (turns - 1),
  };
  await handle.close();
} else {
  for (let index = 0; index < turns; index += 1) {
    const begun = process.hrtime.bigint();
    const handle = await spawnAgent({ sessionId, resume: index > 0 });
    await turn(handle, "hi");
    samples.push(elapsed(begun));
  }
}
process.stdout.write(`${JSON.stringify({ first_ms: samples[0], later_ms: samples.slice(1), cpu })}\n`);
