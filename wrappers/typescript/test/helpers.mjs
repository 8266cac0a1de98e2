// Test helpers: an isolated environment, envelopes, notification lines and the fake engine.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { FAKE_ENGINE, fakeEnginePython } from "./replay.mjs";

export const SESSION = "sess-1";

/** Point HOME, the state root and the runtime dir at a fresh temp dir for this test file. */
export function isolate() {
  const root = mkdtempSync(join(tmpdir(), "aat-"));
  mkdirSync(join(root, "home"));
  mkdirSync(join(root, "runtime"), { mode: 0o700 });
  process.env.HOME = join(root, "home");
  process.env.AMPLIFIER_AGENT_HOME = join(root, "home", ".amplifier-agent");
  process.env.XDG_RUNTIME_DIR = join(root, "runtime");
  process.env.AMPLIFIER_AGENT_BIN = FAKE_ENGINE;
  process.env.AMPLIFIER_FAKE_ENGINE_PYTHON = fakeEnginePython();
  return root;
}

/** Run `body` with some environment variables changed (undefined deletes), then restore them. */
export async function withEnv(changes, body) {
  const saved = Object.fromEntries(Object.keys(changes).map((name) => [name, process.env[name]]));
  const apply = (values) => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  apply(changes);
  try {
    return await body();
  } finally {
    apply(saved);
  }
}

export function okEnvelope(reply = "done", sessionId = SESSION) {
  return {
    protocolVersion: "0.3.0",
    sessionId,
    turnId: "turn-1",
    reply,
    error: null,
    metadata: { tokensIn: 3, tokensOut: 1, costUsd: "0.0001", durationMs: 5 },
  };
}

export function notification(method, params = {}) {
  return JSON.stringify({ jsonrpc: "2.0", method, params: { sessionId: SESSION, ...params } });
}

/** Writes the fixture file the fake engine reads and reads back what it recorded. */
export class FakeEngine {
  constructor() {
    this.directory = mkdtempSync(join(tmpdir(), "aat-fake-"));
    this.marker = join(this.directory, "marker.jsonl");
    this.binary = FAKE_ENGINE;
    this.configure();
  }

  configure(overrides = {}) {
    const fixture = {
      version_json: { version: "0.8.0", protocolVersion: "0.3.0" },
      stdout: okEnvelope(),
      stderr_lines: [],
      exit_code: 0,
      delay_ms: 0,
      marker_file: this.marker,
      ...overrides,
    };
    const path = join(this.directory, "fixture.json");
    writeFileSync(path, JSON.stringify(fixture));
    process.env.AMPLIFIER_FAKE_ENGINE_FIXTURE = path;
    return path;
  }

  records() {
    if (!existsSync(this.marker)) return [];
    return readFileSync(this.marker, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line));
  }

  runRecord() {
    const runs = this.records().filter((record) => record.argv[0] === "run");
    if (runs.length !== 1) throw new Error(`expected one run, got ${runs.length}`);
    return runs[0];
  }

  async waitForRun() {
    for (let i = 0; i < 200; i += 1) {
      const runs = this.records().filter((record) => record.argv[0] === "run");
      if (runs.length > 0) return runs[0];
      await sleep(50);
    }
    throw new Error("the fake engine never started");
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function collect(events) {
  const seen = [];
  for await (const event of events) seen.push(event);
  return seen;
}

/** Alive and not a zombie (a dead orphan waiting for init to reap it is not running). */
export function isRunning(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return (
      stat
        .slice(stat.lastIndexOf(")") + 1)
        .trim()
        .split(" ")[0] !== "Z"
    );
  } catch {
    return true;
  }
}

/** Gone from the process table entirely: no zombie left behind by its parent. */
export function isReaped(pid) {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}
