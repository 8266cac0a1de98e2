// Shared set-up for the openai SDK scripts: the client from the environment and JSON output.
import OpenAI from "openai";

export function clientFromEnv() {
  const baseURL = requireEnv("BASE_URL");
  const apiKey = requireEnv("API_KEY");
  // SESSION_ID (optional) correlates the requests of one conversation the way opencode does.
  const sessionId = process.env.SESSION_ID;
  const defaultHeaders = sessionId ? { "x-session-id": sessionId } : undefined;
  return new OpenAI({
    baseURL,
    apiKey,
    defaultHeaders,
    maxRetries: 0,
    timeout: 60_000,
    fetch: recordingFetch,
  });
}

// What the SDK put on the wire for each POST: its Accept header and its `stream` field (null
// when absent), so a test can tell which kind of call it exercised.
export const sent = [];

async function recordingFetch(url, init) {
  if (init?.method === "POST" && typeof init.body === "string") {
    const body = JSON.parse(init.body);
    const accept = new Headers(init.headers).get("accept");
    sent.push({ accept, stream: "stream" in body ? body.stream : null });
  }
  return fetch(url, init);
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
