import { mkdirSync } from "node:fs";
import { serve } from "reqtrack/server";
import type { RunningExample } from "../run.js";
import { createChatLanes } from "./app.js";

/** The demo: a few channels' messages in three lanes, two processors, the dashboard. */
export async function main(port: number): Promise<RunningExample> {
  mkdirSync("data/examples", { recursive: true });
  const app = await createChatLanes({ storage: "data/examples/chat-lanes.db" });
  const server = await serve({ tracker: app.tracker, port });
  const messages = [
    { channelId: "support", userId: "ada", message: "Hello, I need a refund", priority: 0.9 },
    { channelId: "general", userId: "lin", message: "Book room B2 for Monday", priority: 0.5 },
    { channelId: "general", userId: "ada", message: "hey, any news?", priority: 0.1 },
    { channelId: "support", userId: "sam", message: "this will crash the model", priority: 0.8 },
  ];
  let n = 0;
  const feed = setInterval(() => {
    const next = messages[n++ % messages.length];
    if (next) void app.submit(next);
  }, 700);
  const processors = ["processor-1", "processor-2"].map((id) =>
    setInterval(() => void app.processNext(id), 1100),
  );
  return {
    lines: [
      `dashboard:  ${server.url}/`,
      `requests:   ${server.url}/api/v1/requests?kind=chat_message`,
      `one user:   ${server.url}/api/v1/requests?userId=ada`,
      "messages arrive every 0.7 s in three lanes; two processors claim high before normal before low",
    ],
    async close() {
      clearInterval(feed);
      for (const p of processors) clearInterval(p);
      await server.close();
    },
  };
}
