// Shared set-up for the openai SDK scripts: the client from the environment and JSON output.
import OpenAI from "openai";

export function clientFromEnv() {
  const baseURL = requireEnv("BASE_URL");
  const apiKey = requireEnv("API_KEY");
  // SESSION_ID (optional) correlates the requests of one conversation the way opencode does.
  const sessionId = process.env.SESSION_ID;
  const defaultHeaders = sessionId ? { "x-session-id": sessionId } : undefined;
  return new OpenAI({ baseURL, apiKey, defaultHeaders, maxRetries: 0, timeout: 60_000 });
}

export function requireEnv(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set`);
  }
  return value;
}

// One JSON document on stdout is the script's whole answer; errors go to stderr and exit 1.
export async function main(run) {
  try {
    const result = await run();
    process.stdout.write(JSON.stringify(result) + "\n");
  } catch (error) {
    process.stderr.write(`${error?.stack ?? error}\n`);
    process.exitCode = 1;
  }
}
