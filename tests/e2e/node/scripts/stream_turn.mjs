// A streamed turn through `chat.completions.create({stream: true})`: collects the text, the chunk
// ids and the usage the SDK surfaced. Env: BASE_URL, API_KEY, MODEL, PROMPT (optional).
import { clientFromEnv, main, requireEnv } from "./common.mjs";

main(async () => {
  const client = clientFromEnv();
  const stream = await client.chat.completions.create({
    model: requireEnv("MODEL"),
    messages: [{ role: "user", content: process.env.PROMPT ?? "Say hello." }],
    stream: true,
    stream_options: { include_usage: true },
  });
  const seen = { text: "", roles: [], ids: new Set(), models: new Set(), finishReasons: [] };
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks += 1;
    seen.ids.add(chunk.id);
    seen.models.add(chunk.model);
    for (const choice of chunk.choices) {
      if (choice.delta.role) seen.roles.push(choice.delta.role);
      seen.text += choice.delta.content ?? "";
      if (choice.finish_reason) seen.finishReasons.push(choice.finish_reason);
    }
    if (chunk.usage) usage = chunk.usage;
  }
  return {
    text: seen.text,
    chunks,
    roles: seen.roles,
    ids: [...seen.ids],
    models: [...seen.models],
    finish_reasons: seen.finishReasons,
    usage,
  };
});
