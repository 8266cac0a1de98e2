// cancel(): SIGTERM to the group, 5 s, SIGKILL to the group; it resolves even while a grandchild
// holds the pipes, and no process of the turn survives it.

import assert from "node:assert/strict";
import { test } from "node:test";

import { spawnAgent } from "../src/index.js";
import { FakeEngine, SESSION, isReaped, isRunning, isolate, notification, sleep } from "./helpers.mjs";

isolate();
const SLOW = { delay_ms: 60000, stderr_lines: [notification("progress", { message: "working" })] };

test("cancel kills a grandchild that ignores SIGTERM", async () => {
  const fake = new FakeEngine();
  fake.configure({ ...SLOW, grandchild: { ignore_sigterm: true, sleep_s: 120 } });
  const handle = await spawnAgent({ sessionId: SESSION });
  const events = [];
  const cancelledAt = [];
  for await (const event of handle.submit("slow")) {
    events.push(event);
    if (event.type === "activity" && cancelledAt.length === 0) {
      cancelledAt.push(Date.now());
      await handle.cancel();
      cancelledAt.push(Date.now());
    }
  }
  const record = fake.runRecord();
  assert.ok(cancelledAt[1] - cancelledAt[0] < 10000);
  assert.equal(events.at(-1).code, "engine_exit_143");
  const activity = events.filter((event) => event.type === "activity");
  assert.ok(activity.length > 0 && activity[0].elapsedMs >= 1900);
  assert.ok(isReaped(record.pid), "the engine process was left a zombie");
  // SIGKILL is delivered asynchronously: allow the rest of the 10 s budget for it to land.
  while (isRunning(record.grandchild_pid) && Date.now() - cancelledAt[0] < 10000) await sleep(20);
  assert.ok(!isRunning(record.grandchild_pid), "the grandchild survived cancel()");
});

test("cancel escalates to SIGKILL after five seconds", async () => {
  const fake = new FakeEngine();
  fake.configure({ ...SLOW, on_sigterm: "ignore" });
  const handle = await spawnAgent({ sessionId: SESSION });
  const events = handle.submit("slow");
  const record = await fake.waitForRun();
  await sleep(200); // let the fake engine install its SIGTERM disposition
  const started = Date.now();
  await handle.cancel();
  const elapsed = Date.now() - started;
  assert.ok(elapsed > 4500 && elapsed < 10000, String(elapsed));
  const collected = [];
  for await (const event of events) collected.push(event);
  assert.equal(collected.at(-1).code, "engine_exit_137");
  assert.ok(isReaped(record.pid));
});

test("a normal exit resolves while a grandchild holds the pipes", async () => {
  const fake = new FakeEngine();
  fake.configure({ grandchild: { ignore_sigterm: false, sleep_s: 120 } });
  const handle = await spawnAgent({ sessionId: SESSION });
  const started = Date.now();
  const events = [];
  for await (const event of handle.submit("quick")) events.push(event);
  assert.ok(Date.now() - started < 3000);
  assert.equal(events.at(-1).type, "result");
  const grandchild = fake.runRecord().grandchild_pid;
  assert.ok(isRunning(grandchild)); // a normal exit does not touch the rest of the group
  process.kill(grandchild, "SIGKILL");
});

test("leaving the iteration early cancels the turn", async () => {
  const fake = new FakeEngine();
  fake.configure(SLOW);
  const handle = await spawnAgent({ sessionId: SESSION });
  for await (const event of handle.submit("slow")) {
    if (event.type === "notification") break;
  }
  assert.ok(isReaped(fake.runRecord().pid));
});

test("cancel before or after a turn is a no-op", async () => {
  new FakeEngine();
  const handle = await spawnAgent({ sessionId: SESSION });
  await handle.cancel();
  const events = [];
  for await (const event of handle.submit("hi")) events.push(event);
  assert.equal(events.at(-1).type, "result");
  await handle.cancel();
});
