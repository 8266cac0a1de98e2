// Replays process fixtures (conformance/fixtures/process) and persistent-lifecycle fixtures
// (conformance/fixtures/stdio) against the fake engine, turns what the wrapper did into an
// observation and a §10.5 report. Run directly, it prints the
// observations of the fixture files named on the command line as one JSON object.

import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { AgentError, spawnAgent } from "../src/index.js";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const FIXTURE_DIR = join(REPO, "conformance", "fixtures", "process");
export const STDIO_FIXTURE_DIR = join(REPO, "conformance", "fixtures", "stdio");
export const FAKE_ENGINE = join(REPO, "conformance", "fake-engine", "bin", "amplifier-agent");
export const REPORTS_VAR = "AMPLIFIER_CONFORMANCE_REPORTS";
const ENGINE_VARS = ["AMPLIFIER_AGENT_BIN", "AMPLIFIER_FAKE_ENGINE_FIXTURE", "AMPLIFIER_FAKE_ENGINE_PYTHON"];

let interpreter;
/** The real interpreter behind `python3`, resolved once: a version-manager shim is slow to start. */
export function fakeEnginePython() {
  interpreter ??= execFileSync("python3", ["-c", "import sys; print(sys.executable)"], {
    encoding: "utf8",
  }).trim();
  return interpreter;
}
const OPTION_NAMES = [
  "sessionId",
  "resume",
  "allowProtocolSkew",
  "displayMode",
  "approval",
  "timeoutMs",
  "lifecycle",
];

/** @param {string} directory */
function jsonFiles(directory) {
  return readdirSync(directory)
    .filter((name) => name.endsWith(".json"))
    .sort()
    .map((name) => join(directory, name));
}

export function fixturePaths() {
  return [...jsonFiles(FIXTURE_DIR), ...jsonFiles(STDIO_FIXTURE_DIR)];
}

/** @param {AgentError} error */
function errorRecord(error) {
  const { type, ...record } = error.toEvent();
  return record;
}

/** Run one fixture through spawnAgent + submit with the fake engine as the binary. */
export async function observe(fixturePath) {
  const fixture = JSON.parse(readFileSync(fixturePath, "utf8"));
  const saved = Object.fromEntries(ENGINE_VARS.map((name) => [name, process.env[name]]));
  process.env.AMPLIFIER_AGENT_BIN = FAKE_ENGINE;
  process.env.AMPLIFIER_FAKE_ENGINE_FIXTURE = fixturePath;
  process.env.AMPLIFIER_FAKE_ENGINE_PYTHON = fakeEnginePython();
  try {
    return await observeFixture(fixture);
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

async function observeFixture(fixture) {
  const options = Object.fromEntries(
    Object.entries(fixture.options).filter(([key]) => OPTION_NAMES.includes(key)),
  );
  const onEvent = [];
  if (fixture.options.onEvent) options.display = { onEvent: (event) => void onEvent.push(event) };
  const observation = { spawn_error: null, events: [], on_event: onEvent };
  let handle;
  try {
    handle = await spawnAgent(options);
  } catch (error) {
    if (!(error instanceof AgentError)) throw error;
    observation.spawn_error = errorRecord(error);
    return observation;
  }
  try {
    for (const prompt of fixture.prompts ?? [fixture.prompt]) {
      for await (const event of handle.submit(prompt)) {
        // activity is timing-dependent, never part of an expectation
        if (event.type !== "activity") observation.events.push(event);
      }
    }
  } finally {
    await handle.close();
  }
  return observation;
}

const isObject = (value) => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * null when `actual` satisfies `expected` (objects: subset; {"$absent": true}: key missing;
 * everything else: deep equality), else a description of the first difference.
 */
export function matches(expected, actual, path = "") {
  if (isObject(expected)) {
    if (!isObject(actual)) return `${path || "."}: expected an object, got ${JSON.stringify(actual)}`;
    for (const [key, want] of Object.entries(expected)) {
      const where = `${path}.${key}`;
      if (isObject(want) && want.$absent === true) {
        if (key in actual) return `${where}: expected absent, got ${JSON.stringify(actual[key])}`;
        continue;
      }
      if (!(key in actual)) return `${where}: missing`;
      const problem = matches(want, actual[key], where);
      if (problem) return problem;
    }
    return null;
  }
  const same = JSON.stringify(expected) === JSON.stringify(actual);
  return same ? null : `${path || "."}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`;
}

const check = (kind, problem, okDetail) => ({ kind, passed: problem === null, detail: problem ?? okDetail });

function sequenceAssertions(label, expected, actual) {
  const want = expected.map((event) => event.type);
  const got = actual.map((event) => event.type);
  const same = JSON.stringify(want) === JSON.stringify(got);
  const checks = [check(`${label}_types`, same ? null : `expected ${want}, got ${got}`, got.join(","))];
  expected.forEach((event, index) => {
    if (index >= actual.length) {
      checks.push(check(`${label}_fields`, `${label}[${index}]: missing`, ""));
      return;
    }
    checks.push(
      check(
        `${label}_fields`,
        matches(event, actual[index], `${label}[${index}]`),
        `${label}[${index}] matches`,
      ),
    );
  });
  return checks;
}

/** Event types cut into turns: each turn starts with its `init`. */
function turnsOf(kinds) {
  const turns = [];
  for (const kind of kinds) {
    if (kind === "init" || turns.length === 0) turns.push([]);
    turns.at(-1).push(kind);
  }
  return turns;
}

/** Every turn ends with exactly one result or error event, and it comes last. */
function terminalAssertion(observation) {
  if (observation.spawn_error !== null) return check("single_terminal_event", null, "spawn failed: no turn");
  const kinds = observation.events.map((event) => event.type);
  const turns = turnsOf(kinds);
  const ok = (turns.length > 0 ? turns : [[]]).every((turn) => {
    const closing = turn.filter((kind) => kind === "result" || kind === "error");
    return closing.length === 1 && turn.at(-1) === closing[0];
  });
  return check("single_terminal_event", ok ? null : `events were ${kinds}`, "one per turn, last");
}

export function evaluate(fixture, observation) {
  const expected = fixture.expected;
  const wantSpawn = expected.spawn_error;
  const gotSpawn = observation.spawn_error;
  let problem;
  if (wantSpawn === null) problem = gotSpawn === null ? null : `spawn raised ${JSON.stringify(gotSpawn)}`;
  else problem = gotSpawn === null ? "spawn succeeded" : matches(wantSpawn, gotSpawn);
  return [
    check("spawn_outcome", problem, "as expected"),
    ...sequenceAssertions("events", expected.events, observation.events),
    ...sequenceAssertions("on_event", expected.on_event ?? [], observation.on_event),
    terminalAssertion(observation),
  ];
}

export function report(fixture, observation) {
  const assertions = evaluate(fixture, observation);
  return {
    fixture: fixture.name,
    language: "typescript",
    passed: assertions.every((a) => a.passed),
    assertions,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const observations = {};
  for (const path of process.argv.slice(2)) {
    observations[basename(path, ".json")] = await observe(resolve(path));
  }
  process.stdout.write(JSON.stringify(observations));
}
