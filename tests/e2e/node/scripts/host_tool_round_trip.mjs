// A host-tool round trip: the script declares `word_length`, runs every call the model asks for
// locally and posts the results back until the model answers. Env: BASE_URL, API_KEY, MODEL,
// STREAM ("1" streams each leg, "0" sends stream:false, "default" sends no stream field, the
// SDK's plain non-stream call), SESSION_ID (optional).
import { clientFromEnv, main, requireEnv, sent } from "./common.mjs";

const TOOLS = [
  {
    type: "function",
    function: {
      name: "word_length",
      description: "Count the characters of a word",
      parameters: {
        type: "object",
        properties: { word: { type: "string" } },
        required: ["word"],
      },
    },
  },
];
const MAX_LEGS = 4;

function runTool(call) {
  if (call.function.name !== "word_length") {
    return `unknown tool ${call.function.name}`;
  }
  const { word } = JSON.parse(call.function.arguments);
  return String(word.length);
}

// Rebuilds the assistant message from streamed deltas the way a hand-written consumer does:
// tool-call fragments are merged by `index`.
async function streamedLeg(client, body) {
  const stream = await client.chat.completions.create({
    ...body,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "";
  let finishReason = null;
  let usage = null;
  const calls = [];
  const fragments = [];
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      text += choice.delta.content ?? "";
      finishReason = choice.finish_reason ?? finishReason;
      for (const delta of choice.delta.tool_calls ?? []) {
        const call = (calls[delta.index] ??= {
          id: "",
          type: "function",
          function: { name: "", arguments: "" },
        });
        fragments[delta.index] = (fragments[delta.index] ?? 0) + 1;
        call.id ||= delta.id ?? "";
        call.function.name += delta.function?.name ?? "";
        call.function.arguments += delta.function?.arguments ?? "";
      }
    }
  }
  return { text, calls, finishReason, usage, deltasPerCall: fragments };
}

async function bufferedLeg(client, body) {
  const completion = await client.chat.completions.create(body);
  const choice = completion.choices[0];
  return {
    object: completion.object,
    text: choice.message.content,
    calls: choice.message.tool_calls ?? [],
    finishReason: choice.finish_reason,
    usage: completion.usage,
  };
}

const LEGS = {
  1: streamedLeg,
  0: (client, body) => bufferedLeg(client, { ...body, stream: false }),
  default: bufferedLeg,
};

main(async () => {
  const client = clientFromEnv();
  const leg = LEGS[process.env.STREAM ?? "1"];
  const messages = [{ role: "user", content: "How long are the words alpha and gamma?" }];
  const legs = [];
  for (let i = 0; i < MAX_LEGS; i += 1) {
    const answer = await leg(client, { model: requireEnv("MODEL"), messages, tools: TOOLS });
    legs.push({ ...answer, messagesSent: messages.length });
    if (answer.finishReason !== "tool_calls") break;
    // openai JS clients echo a tool-only assistant turn with `content: null`.
    messages.push({ role: "assistant", content: answer.text || null, tool_calls: answer.calls });
    for (const call of answer.calls) {
      messages.push({ role: "tool", tool_call_id: call.id, content: runTool(call) });
    }
  }
  return { legs, history: messages, sent };
});
