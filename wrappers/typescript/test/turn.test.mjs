// One turn end to end against the fake engine: argv, environment, MCP spill, outcome rules,
// notification routing and the timeout.

import assert from "node:assert/strict";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { spawnAgent } from "../src/index.js";
import {
  FakeEngine,
  SESSION,
  collect,
  isolate,
  notification,
  okEnvelope,
  sleep,
  withEnv,
} from "./helpers.mjs";

const root = isolate();

async function runTurn(prompt = "hi", options = {}) {
  const handle = await spawnAgent({ sessionId: SESSION, ...options });
  return collect(handle.submit(prompt));
}

test("argv follows the normative order", async () => {
  const fake = new FakeEngine();
  await runTurn("do it", {
    resume: true,
    cwd: root,
    configPath: join(root, "host.json"),
    displayMode: "text",
    workspace: "proj-1",
    approval: { mode: "no" },
  });
  assert.deepEqual(fake.runRecord().argv, [
    "run",
    "--session-id",
    SESSION,
    "--resume",
    "--cwd",
    root,
    "--config",
    join(root, "host.json"),
    "--output",
    "json",
    "--protocol-version",
    "0.3.0",
    "--display",
    "text",
    "--workspace",
    "proj-1",
    "-n",
    "--",
    "do it",
  ]);
});

test("argv defaults", async () => {
  const fake = new FakeEngine();
  await runTurn("hello");
  assert.deepEqual(fake.runRecord().argv, [
    "run",
    "--session-id",
    SESSION,
    "--fresh",
    "--output",
    "json",
    "--protocol-version",
    "0.3.0",
    "--display",
    "ndjson",
    "-y",
    "--",
    "hello",
  ]);
});

for (const [approval, flags] of [
  ["yes", ["-y"]],
  [{ mode: "no" }, ["-n"]],
  ["prompt", []],
]) {
  test(`approval ${JSON.stringify(approval)}`, async () => {
    const fake = new FakeEngine();
    await runTurn("hi", { approval });
    assert.deepEqual(
      fake.runRecord().argv.filter((arg) => arg === "-y" || arg === "-n"),
      flags,
    );
  });
}

test("a prompt starting with a dash arrives intact", async () => {
  const fake = new FakeEngine();
  const prompt = "--help -y --session-id other";
  const events = await runTurn(prompt);
  const { argv } = fake.runRecord();
  assert.deepEqual(argv.slice(-2), ["--", prompt]);
  assert.equal(argv.filter((arg) => arg === "--session-id").length, 1);
  assert.equal(events.at(-1).type, "result");
});

test("the engine runs as its own group leader", async () => {
  const fake = new FakeEngine();
  await runTurn();
  const record = fake.runRecord();
  assert.equal(record.pid, record.pgid);
  assert.equal(record.pid, record.sid);
});

test("the child environment is the allowlist", async () => {
  const fake = new FakeEngine();
  const parent = {
    SECRET_TOKEN: "leak",
    PYTHONPATH: "/somewhere",
    LC_ALL: "C.UTF-8",
    OPENAI_API_KEY: "sk-test",
    AMPLIFIER_AGENT_WORKSPACE: "ws",
    MY_TOOL_CONFIG: "yes",
  };
  const env = {
    allowlist: ["MY_TOOL_CONFIG", "NOT_SET_ANYWHERE"],
    extra: { AMPLIFIER_AGENT_WORKSPACE: "override", EXTRA_ONE: "1" },
  };
  await withEnv(parent, () => runTurn("hi", { env }));
  const child = fake.runRecord().env;
  assert.equal(child.SECRET_TOKEN, undefined);
  assert.equal(child.PYTHONPATH, undefined);
  assert.equal(child.NOT_SET_ANYWHERE, undefined);
  assert.equal(child.LC_ALL, "C.UTF-8");
  assert.equal(child.OPENAI_API_KEY, "sk-test");
  assert.equal(child.MY_TOOL_CONFIG, "yes");
  assert.equal(child.AMPLIFIER_AGENT_WORKSPACE, "override");
  assert.equal(child.EXTRA_ONE, "1");
  const allowed = new Set([
    "PATH",
    "HOME",
    "USER",
    "LANG",
    "TERM",
    "TMPDIR",
    "MY_TOOL_CONFIG",
    "EXTRA_ONE",
    "OPENAI_API_KEY",
  ]);
  const strays = Object.keys(child).filter(
    (n) => !allowed.has(n) && !n.startsWith("AMPLIFIER_") && !n.startsWith("LC_"),
  );
  // A launcher between us and the fake engine (env, a pyenv shim) may add its own names.
  const launcher = strays.filter((n) => ["PWD", "SHLVL", "_"].includes(n) || n.includes("PYENV"));
  assert.deepEqual(strays, launcher);
});

const MCP = { files: { command: "mcp-files", args: ["--root", "/data"] } };

for (const exitCode of [0, 5]) {
  test(`the MCP spill is private and removed (exit ${exitCode})`, async () => {
    const fake = new FakeEngine();
    fake.configure({ exit_code: exitCode, stdout: exitCode ? "" : okEnvelope() });
    await runTurn("hi", { mcpServers: MCP });
    const expectedPath = join(root, "runtime", "amplifier-agent", SESSION, "mcp.json");
    assert.deepEqual(fake.runRecord().mcp, {
      path: expectedPath,
      content: { mcpServers: MCP },
      mode: 0o600,
      dir_mode: 0o700,
    });
    assert.equal(existsSync(expectedPath), false);
    assert.equal(statSync(join(root, "runtime", "amplifier-agent")).mode & 0o777, 0o700);
  });
}

test("the MCP spill falls back to the temp dir", async () => {
  const fake = new FakeEngine();
  await withEnv({ XDG_RUNTIME_DIR: undefined, TMPDIR: root }, () => runTurn("hi", { mcpServers: MCP }));
  const path = fake.runRecord().mcp.path;
  assert.equal(path, join(root, "amplifier-agent", SESSION, "mcp.json"));
  assert.equal(existsSync(path), false);
});

test("no MCP variable without servers", async () => {
  const fake = new FakeEngine();
  await runTurn();
  assert.equal(fake.runRecord().env.AMPLIFIER_MCP_CONFIG, undefined);
});

test("the envelope is authoritative over a non-zero exit", async () => {
  const fake = new FakeEngine();
  fake.configure({ stdout: okEnvelope("all good"), exit_code: 7 });
  const events = await runTurn();
  assert.deepEqual(
    events.map((event) => event.type),
    ["init", "notification", "result"],
  );
  assert.equal(events.at(-1).text, "all good");
  assert.equal(events.at(-1).metadata.costUsd, "0.0001");
});

test("stderrTail is the last 4096 characters", async () => {
  const fake = new FakeEngine();
  const lines = Array.from({ length: 200 }, (_, i) => `line ${String(i).padStart(4, "0")} ` + "é".repeat(40));
  fake.configure({ stdout: "", stderr_lines: lines, exit_code: 1 });
  const events = await runTurn();
  const full = lines.map((line) => `${line}\n`).join("");
  assert.equal(events.at(-1).stderrTail, full.slice(-4096));
  assert.equal(events.at(-1).code, "engine_exit_1");
});

test("notifications go only to onEvent", async () => {
  const fake = new FakeEngine();
  fake.configure({
    stderr_lines: [
      notification("progress", { message: "a" }),
      notification("result/final", { text: "done" }),
    ],
  });
  const seen = [];
  const onEvent = async (event) => {
    await sleep(10);
    seen.push(event);
  };
  const events = await runTurn("hi", { display: { onEvent } });
  assert.deepEqual(
    events.map((event) => event.type),
    ["init", "result"],
  );
  assert.deepEqual(
    seen.map((event) => event.method),
    ["progress", "result/final"],
  );
});

test("no synthesized result/final in text display mode", async () => {
  new FakeEngine();
  const events = await runTurn("hi", { displayMode: "text" });
  assert.deepEqual(
    events.map((event) => event.type),
    ["init", "result"],
  );
});

test("a spawn failure is a transport error event", async () => {
  new FakeEngine();
  const binary = join(root, "not-executable-either");
  writeFileSync(binary, "#!/bin/sh\n");
  const events = await withEnv({ AMPLIFIER_AGENT_BIN: binary }, () =>
    runTurn("hi", { allowProtocolSkew: true, mcpServers: MCP }),
  );
  assert.deepEqual(
    events.map((event) => event.type),
    ["init", "error"],
  );
  const error = events.at(-1);
  assert.deepEqual([error.code, error.classification, error.retryable], ["spawn_failed", "transport", true]);
  assert.match(error.message, /EACCES/);
  assert.equal(existsSync(join(root, "runtime", "amplifier-agent", SESSION, "mcp.json")), false);
});

test("a timeout yields engine_hung", async () => {
  const fake = new FakeEngine();
  fake.configure({ delay_ms: 30000, stderr_lines: [notification("progress", { message: "thinking" })] });
  const started = Date.now();
  const events = await runTurn("hi", { timeoutMs: 400 });
  assert.ok(Date.now() - started < 5000);
  const error = events.at(-1);
  assert.deepEqual([error.code, error.classification, error.retryable], ["engine_hung", "engine", true]);
  assert.match(error.stderrTail, /\[info\] Terminated/);
  assert.deepEqual(
    events.map((event) => event.type),
    ["init", "notification", "error"],
  );
});

test("event shapes", async () => {
  const fake = new FakeEngine();
  const [init, final, result] = await runTurn();
  assert.deepEqual(init, {
    type: "init",
    sessionId: SESSION,
    engineInfo: {
      binaryPath: fake.binary,
      protocolVersion: "0.3.0",
      engineVersion: "0.8.0",
      bundleDigest: "",
    },
  });
  assert.equal(final.synthesized, true);
  assert.equal(final.params.text, "done");
  assert.deepEqual(result, {
    type: "result",
    text: "done",
    sessionId: SESSION,
    metadata: okEnvelope().metadata,
  });
});
