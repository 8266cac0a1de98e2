// What spawnAgent checks before a turn: discovery, the probe, and every option that must be
// refused before any process starts.

import assert from "node:assert/strict";
import { chmodSync, existsSync, writeFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { test } from "node:test";

import {
  AgentError,
  DEFAULT_TIMEOUT_MS,
  PROTOCOL_VERSION_REQUIRED_BY_WRAPPER,
  getEngineInfo,
  spawnAgent,
} from "../src/index.js";
import { FakeEngine, SESSION, collect, isolate, withEnv } from "./helpers.mjs";

const root = isolate();

/** @returns {Promise<AgentError>} */
async function refusal(promise) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof AgentError, String(error));
    return error;
  }
  assert.fail("expected an AgentError");
}

test("exported constants", () => {
  assert.equal(PROTOCOL_VERSION_REQUIRED_BY_WRAPPER, "0.3.0");
  assert.equal(DEFAULT_TIMEOUT_MS, 600000);
});

test("binary_not_found without the env var or a PATH entry", async () => {
  new FakeEngine();
  const error = await withEnv({ AMPLIFIER_AGENT_BIN: undefined, PATH: root }, () =>
    refusal(spawnAgent({ sessionId: SESSION })),
  );
  assert.equal(error.code, "binary_not_found");
  assert.equal(error.classification, "transport");
  assert.equal(error.retryable, true);
});

test("the binary is found on PATH", async () => {
  const fake = new FakeEngine();
  const PATH = `${dirname(fake.binary)}:${process.env.PATH}`;
  const handle = await withEnv({ AMPLIFIER_AGENT_BIN: undefined, PATH }, () =>
    spawnAgent({ sessionId: SESSION }),
  );
  assert.deepEqual(handle.getEngineInfo(), {
    binaryPath: fake.binary,
    protocolVersion: "0.3.0",
    engineVersion: "0.8.0",
    bundleDigest: "",
  });
});

test("the probe runs once per spawn, before the turn", async () => {
  const fake = new FakeEngine();
  const handle = await spawnAgent({ sessionId: SESSION });
  await collect(handle.submit("hi"));
  assert.deepEqual(
    fake.records().map((record) => record.argv.slice(0, 2)),
    [
      ["version", "--json"],
      ["run", "--session-id"],
    ],
  );
});

test("protocol_version_mismatch names allowProtocolSkew, not an env var", async () => {
  const fake = new FakeEngine();
  fake.configure({ version_json: { version: "0.9.0", protocolVersion: "0.3.1" } });
  const error = await refusal(spawnAgent({ sessionId: SESSION }));
  assert.equal(error.code, "protocol_version_mismatch");
  assert.equal(error.classification, "protocol");
  assert.match(error.remediation ?? "", /allowProtocolSkew/);
  assert.doesNotMatch(error.remediation ?? "", /AMPLIFIER_/);
  assert.deepEqual(
    fake.records().map((record) => record.argv[0]),
    ["version"],
  );
});

test("allowProtocolSkew tolerates a failing probe and drops --protocol-version", async () => {
  const fake = new FakeEngine();
  fake.configure({ version_json: "", version_exit_code: 1 });
  const handle = await spawnAgent({ sessionId: SESSION, allowProtocolSkew: true });
  assert.deepEqual([handle.getEngineInfo().protocolVersion, handle.getEngineInfo().engineVersion], ["", ""]);
  const events = await collect(handle.submit("hi"));
  assert.equal(events.at(-1).type, "result");
  assert.ok(!fake.runRecord().argv.includes("--protocol-version"));
});

test("a probe that times out is a transport failure", async () => {
  const fake = new FakeEngine();
  fake.configure({ version_delay_ms: 20000 });
  const started = Date.now();
  const error = await refusal(spawnAgent({ sessionId: SESSION }));
  assert.ok(Date.now() - started < 10000);
  assert.equal(error.code, "engine_probe_failed");
  assert.equal(error.classification, "transport");
  assert.match(error.message, /timed out after 5000 ms/);
});

test("an unstartable binary fails the probe", async () => {
  const binary = join(root, "not-executable");
  writeFileSync(binary, "#!/bin/sh\n");
  chmodSync(binary, 0o400);
  const error = await withEnv({ AMPLIFIER_AGENT_BIN: binary }, () =>
    refusal(spawnAgent({ sessionId: SESSION })),
  );
  assert.equal(error.code, "engine_probe_failed");
  assert.equal(error.classification, "transport");
  assert.match(error.message, /EACCES/);
});

test("getEngineInfo probes without a turn", async () => {
  const fake = new FakeEngine();
  fake.configure({ version_json: { version: "0.8.0", protocolVersion: "0.3.0", bundleDigest: "d" } });
  const info = await getEngineInfo();
  assert.deepEqual([info.engineVersion, info.protocolVersion, info.bundleDigest], ["0.8.0", "0.3.0", "d"]);
});

const REFUSED = [
  ["env_injection_rejected", { env: { extra: { LD_PRELOAD: "/tmp/x.so" } } }],
  ["env_injection_rejected", { env: { extra: { LD_AUDIT: "x" } } }],
  ["env_injection_rejected", { env: { extra: { DYLD_FRAMEWORK_PATH: "x" } } }],
  ["env_injection_rejected", { env: { extra: { PATH: "/evil" } } }],
  ["env_injection_rejected", { env: { allowlist: ["PYTHONPATH"] } }],
  ["env_injection_rejected", { env: { allowlist: ["PYTHONSTARTUP"] } }],
  ["env_injection_rejected", { env: { allowlist: [""] } }],
  ["env_injection_rejected", { env: { extra: { "A=B": "x" } } }],
  ["env_injection_rejected", { env: { extra: { "A\0B": "x" } } }],
  ["env_injection_rejected", { env: { extra: { SAFE: "a\0b" } } }],
  ["invalid_approval_mode", { approval: "sometimes" }],
  ["invalid_approval_mode", { approval: { mode: "always" } }],
  ["approval_not_supported_in_v1", { approval: () => "accept" }],
  ["approval_not_supported_in_v1", { approval: { mode: "prompt", onRequest: () => "accept" } }],
  ["lifecycle_unsupported", { lifecycle: "pooled" }],
  ["invalid_session", { sessionId: "../escape" }],
  ["invalid_session", { sessionId: "..." }],
  ["invalid_session", { sessionId: "" }],
  ["invalid_session", { sessionId: "a".repeat(129) }],
  ["invalid_session", { sessionId: "has space" }],
];

for (const [code, options] of REFUSED) {
  test(`${code} before any process starts: ${JSON.stringify(options)}`, async () => {
    const fake = new FakeEngine();
    const error = await refusal(spawnAgent({ sessionId: SESSION, ...options }));
    assert.equal(error.code, code);
    assert.equal(error.classification, "protocol");
    // The fake engine writes its marker on every start, the probe included.
    assert.equal(existsSync(fake.marker), false);
  });
}

test("accepted session ids", async () => {
  new FakeEngine();
  for (const sessionId of ["a", "A-b_c.d:e", "x".repeat(128), ".hidden"]) {
    const handle = await spawnAgent({ sessionId });
    assert.equal(handle.sessionId, sessionId);
  }
});

test("a second submit is lifecycle_unsupported", async () => {
  const fake = new FakeEngine();
  const handle = await spawnAgent({ sessionId: SESSION });
  await collect(handle.submit("one"));
  assert.throws(
    () => handle.submit("two"),
    (error) => error instanceof AgentError && error.code === "lifecycle_unsupported",
  );
  assert.equal(fake.records().filter((record) => record.argv[0] === "run").length, 1);
});
