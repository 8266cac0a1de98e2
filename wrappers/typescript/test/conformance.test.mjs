// Every process and stdio fixture replayed through the TypeScript wrapper, one §10.5 report each.

import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { test } from "node:test";

import { FIXTURE_DIR, REPORTS_VAR, evaluate, fixturePaths, observe, report } from "./replay.mjs";

const REQUIRED = [
  "envelope-success",
  "envelope-error",
  "envelope-wins-over-exit-code",
  "envelope-missing-exit-0",
  "engine-exit-nonzero",
  "probe-version-mismatch",
  "probe-bad-json",
  "ndjson-noise-lines-skipped",
  "stdio-turns",
  "stdio-turn-error",
  "stdio-engine-killed-then-restarted",
  "stdio-initialize-error",
];

function reportDir() {
  const directory = join(
    process.env[REPORTS_VAR] || join(tmpdir(), "amplifier-agent-conformance"),
    "typescript",
  );
  mkdirSync(directory, { recursive: true });
  return directory;
}

test("the required fixtures exist", () => {
  const names = fixturePaths().map((path) => basename(path, ".json"));
  for (const name of REQUIRED) assert.ok(names.includes(name), name);
});

for (const path of fixturePaths()) {
  const fixture = JSON.parse(readFileSync(path, "utf8"));
  test(`fixture ${fixture.name}`, async () => {
    const result = report(fixture, await observe(path));
    writeFileSync(join(reportDir(), `${fixture.name}.json`), JSON.stringify(result, null, 2));
    assert.deepEqual(Object.keys(result), ["fixture", "language", "passed", "assertions"]);
    assert.ok(result.passed, JSON.stringify(result.assertions.filter((a) => !a.passed)));
  });
}

test("the evaluator fails on a wrong expectation", async () => {
  const path = join(FIXTURE_DIR, "envelope-success.json");
  const fixture = JSON.parse(readFileSync(path, "utf8"));
  fixture.expected.events.at(-1).text = "something else";
  const failed = evaluate(fixture, await observe(path)).filter((a) => !a.passed);
  assert.deepEqual(
    failed.map((a) => a.kind),
    ["events_fields"],
  );
  assert.match(failed[0].detail, /something else/);
});
