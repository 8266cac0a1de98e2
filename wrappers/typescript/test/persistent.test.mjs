// The persistent lifecycle against the scripted fake engine's `serve stdio`: many turns on one
// process, cancel and timeout, restart after the engine is killed, and no engine left behind
// when the host itself is killed.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

import { AgentError, spawnAgent } from "../src/index.js";
import { FakeEngine, SESSION, collect, isRunning, isolate, sleep } from "./helpers.mjs";

const root = isolate();
const USAGE = { inputTokens: 3, outputTokens: 2, cacheReadTokens: 4, cacheWriteTokens: 0 };
const TURN = {
  notifications: [{ method: "result/delta", params: { text: "hi" } }],
  reply: "hi",
  usage: { ...USAGE, cost: "0.0001" },
};
const SLOW = { ...TURN, delay_ms: 60000 };

/** @param {Record<string, unknown>} [options] */
const persistent = (options = {}) => spawnAgent({ sessionId: SESSION, lifecycle: "persistent", ...options });
const serveRecords = (fake) => fake.records().filter((r) => r.argv[0] === "serve" && r.argv[1] === "stdio");

async function waitUntil(predicate, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    assert.ok(Date.now() < deadline, "timed out");
    await sleep(20);
  }
}

test("every turn runs on one engine process", async () => {
  const fake = new FakeEngine();
  fake.configure({ stdio: { turns: [TURN] } });
  const handle = await persistent({ cwd: root, approval: "no", workspace: "w1" });
  const turns = [];
  for (let i = 0; i < 3; i += 1) turns.push(await collect(handle.submit(`prompt ${i}`)));
  await handle.close();
  turns.forEach((events, index) => {
    assert.deepEqual(
      events.map((e) => e.type),
      ["init", "notification", "notification", "result"],
    );
    assert.deepEqual(
      events.slice(1, 3).map((e) => e.params.turnId),
      [`turn-${index + 1}`, `turn-${index + 1}`],
    );
    const result = events.at(-1);
    assert.equal(result.text, "hi");
    assert.equal(result.sessionId, SESSION);
    assert.equal(result.metadata.tokensIn, 7);
    assert.equal(result.metadata.costUsd, "0.0001");
    assert.equal(result.metadata.engineVersion, "0.8.0");
  });
  const records = serveRecords(fake);
  assert.equal(records.length, 1);
  assert.deepEqual(records[0].argv, ["serve", "stdio", "--cwd", root, "--workspace", "w1", "-n"]);
  assert.equal(records[0].pid, records[0].pgid);
  await waitUntil(() => !isRunning(records[0].pid));
});

test("a JSON-RPC error is the turn's error event", async () => {
  const fake = new FakeEngine();
  const data = { code: "runtime", classification: "engine", message: "upstream_timeout: slow" };
  fake.configure({ stdio: { turns: [{ error: { code: -32000, message: data.message, data } }, TURN] } });
  const handle = await persistent();
  const failed = await collect(handle.submit("one"));
  const succeeded = await collect(handle.submit("two"));
  await handle.close();
  assert.equal(failed.at(-1).code, "runtime");
  assert.equal(failed.at(-1).message, "upstream_timeout: slow");
  assert.equal(failed.at(-1).retryable, true);
  assert.equal(succeeded.at(-1).type, "result");
});

test("a second turn while one runs is refused, cancel ends it and the engine serves on", async () => {
  const fake = new FakeEngine();
  fake.configure({ stdio: { turns: [{ ...SLOW, prompt: "slow" }, { ...TURN, prompt: "next" }] } });
  const handle = await persistent();
  const events = handle.submit("slow")[Symbol.asyncIterator]();
  assert.throws(
    () => handle.submit("again"),
    (error) => error instanceof AgentError && error.code === "session_busy",
  );
  const seen = [(await events.next()).value, (await events.next()).value];
  assert.equal(seen[1].method, "result/delta"); // the engine is running the turn
  await handle.cancel();
  const rest = [];
  for (let item = await events.next(); !item.done; item = await events.next()) rest.push(item.value);
  assert.equal(rest.at(-1).code, "cancelled");
  assert.equal((await collect(handle.submit("next"))).at(-1).type, "result");
  await handle.close();
  assert.equal(serveRecords(fake).length, 1);
});

test("a timeout cancels the turn as engine_hung", async () => {
  const fake = new FakeEngine();
  fake.configure({ stdio: { turns: [SLOW] } });
  const handle = await persistent({ timeoutMs: 300 });
  const events = await collect(handle.submit("slow"));
  await handle.close();
  assert.equal(events.at(-1).code, "engine_hung");
  assert.equal(events.at(-1).retryable, true);
});

test("a killed engine fails its turn and the next turn restarts it", async () => {
  const fake = new FakeEngine();
  // Chosen by prompt: the restarted engine must not replay the slow turn.
  fake.configure({ stdio: { turns: [{ ...SLOW, prompt: "slow" }, { ...TURN, prompt: "again" }] } });
  const handle = await persistent();
  const events = collect(handle.submit("slow"));
  await waitUntil(() => handle.enginePid !== undefined);
  const firstPid = handle.enginePid;
  process.kill(firstPid, "SIGKILL");
  const failed = await events;
  const following = await collect(handle.submit("again"));
  const secondPid = handle.enginePid;
  await handle.close();
  const error = failed.at(-1);
  assert.equal(error.code, "engine_exit_137");
  assert.equal(error.classification, "engine");
  assert.match(error.message, /next turn starts a new one/);
  assert.equal(following.at(-1).type, "result");
  assert.ok(secondPid !== undefined && secondPid !== firstPid);
  assert.deepEqual(
    serveRecords(fake).map((r) => r.pid),
    [firstPid, secondPid],
  );
});

const HOST = `
import { spawnAgent } from ${JSON.stringify(fileURLToPath(new URL("../src/index.js", import.meta.url)))};
const handle = await spawnAgent({ sessionId: "host-1", lifecycle: "persistent" });
const events = handle.submit("slow")[Symbol.asyncIterator]();
await events.next();
while (handle.enginePid === undefined) await new Promise((r) => setTimeout(r, 10));
process.stdout.write(handle.enginePid + "\\n");
setTimeout(() => {}, 60000);
`;

for (const signal of ["SIGKILL", "SIGTERM"]) {
  test(`no engine survives its host killed with ${signal}`, async () => {
    const fake = new FakeEngine();
    fake.configure({ stdio: { turns: [SLOW] } });
    const host = spawn(process.execPath, ["--input-type=module", "-e", HOST], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const enginePid = await new Promise((resolve) => {
      let text = "";
      host.stdout.on("data", (chunk) => {
        text += chunk;
        if (text.includes("\n")) resolve(Number(text.trim()));
      });
    });
    assert.ok(isRunning(enginePid));
    host.kill(signal);
    const deadline = Date.now() + 5000;
    while (isRunning(enginePid) && Date.now() < deadline) await sleep(20);
    assert.ok(!isRunning(enginePid), "the engine outlived its host");
  });
}

test("an initialize failure is the first turn's error", async () => {
  const fake = new FakeEngine();
  const data = { code: "session_not_found", classification: "protocol", message: "no session" };
  fake.configure({ stdio: { initialize_error: { code: -32000, message: "no session", data } } });
  const handle = await persistent({ resume: true });
  const events = await collect(handle.submit("hello"));
  await handle.close();
  assert.deepEqual(
    events.map((e) => e.type),
    ["init", "error"],
  );
  assert.equal(events.at(-1).code, "session_not_found");
});

test("display.onEvent receives the notifications", async () => {
  const fake = new FakeEngine();
  fake.configure({ stdio: { turns: [TURN] } });
  const seen = [];
  const handle = await persistent({ display: { onEvent: (event) => void seen.push(event) } });
  const events = await collect(handle.submit("hi"));
  await handle.close();
  assert.deepEqual(
    events.map((e) => e.type),
    ["init", "result"],
  );
  assert.deepEqual(
    seen.map((e) => e.method),
    ["result/delta", "result/final"],
  );
  assert.deepEqual(seen[1].params.usage, { ...USAGE, cost: "0.0001" });
});
