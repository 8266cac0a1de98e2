// listModels / listAllModels: `models list --output json [--provider p]`, parsed; aggregate mode
// also on exit 2; any other non-zero exit is models_list_failed.

import assert from "node:assert/strict";
import { test } from "node:test";

import { AgentError, listAllModels, listModels } from "../src/index.js";
import { FakeEngine, isolate } from "./helpers.mjs";

isolate();
const SINGLE = { schema_version: 1, provider: "openai", filtered: false, models: [{ id: "m1" }] };
const AGGREGATE = {
  schema_version: 1,
  filtered: false,
  results: [{ provider: "openai", status: "credentials_missing", models: [] }],
};

async function failure(promise) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof AgentError);
    return error;
  }
  assert.fail("expected an AgentError");
}

test("a single provider", async () => {
  const fake = new FakeEngine();
  fake.configure({ models_stdout: SINGLE });
  assert.deepEqual(await listModels({ provider: "openai" }), SINGLE);
  assert.deepEqual(fake.records().at(-1).argv, [
    "models",
    "list",
    "--output",
    "json",
    "--provider",
    "openai",
  ]);
});

test("the aggregate is returned on exit 2", async () => {
  const fake = new FakeEngine();
  fake.configure({ models_stdout: AGGREGATE, models_exit_code: 2 });
  assert.deepEqual(await listAllModels(), AGGREGATE);
  assert.deepEqual(fake.records().at(-1).argv, ["models", "list", "--output", "json"]);
});

test("a single provider failure carries exitCode and stderrTail", async () => {
  const fake = new FakeEngine();
  fake.configure({
    models_stdout: "",
    models_exit_code: 2,
    models_stderr_lines: ["# openai: OPENAI_API_KEY is not set"],
  });
  const error = await failure(listModels({ provider: "openai" }));
  assert.deepEqual([error.code, error.exitCode], ["models_list_failed", 2]);
  assert.equal(error.stderrTail, "# openai: OPENAI_API_KEY is not set\n");
});

test("the aggregate fails on other exit codes", async () => {
  const fake = new FakeEngine();
  fake.configure({ models_stdout: "", models_exit_code: 1, models_stderr_lines: ["boom"] });
  const error = await failure(listAllModels());
  assert.deepEqual([error.code, error.exitCode], ["models_list_failed", 1]);
});

test("unparsable output", async () => {
  const fake = new FakeEngine();
  fake.configure({ models_stdout: "ID  DISPLAY NAME\n" });
  const error = await failure(listModels({ provider: "openai" }));
  assert.equal(error.code, "models_list_failed");
});
