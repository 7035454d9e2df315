import { mkdirSync } from "node:fs";
import { serve } from "reqtrack/server";
import type { RunningExample } from "../run.js";
import { createAgentCrew } from "./app.js";

/**
 * The demo: a crew run every three seconds (every fourth one asks about the disk, whose tool
 * fails), its log lines printed with their request ids, the dashboard on the next port.
 */
export async function main(port: number): Promise<RunningExample> {
  mkdirSync("data/examples", { recursive: true });
  const crew = await createAgentCrew({ storage: "data/examples/agent-crew.db", print: true });
  const url = await crew.listen(port);
  const dashboard = await serve({ tracker: crew.tracker, port: port + 100 });
  const inputs = [
    "Check my system",
    "Why is the CPU busy?",
    "Summarise memory use",
    "Check the disk",
  ];
  let n = 0;
  const timer = setInterval(() => {
    const input = inputs[n++ % inputs.length] ?? "Check my system";
    void fetch(`${url}/api/crew`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input, model: "gpt-4o" }),
    }).catch(() => {});
  }, 3000);
  return {
    lines: [
      `crew:       curl -X POST ${url}/api/crew -H 'content-type: application/json' -d '{"input":"Check my system"}'`,
      `history:    ${url}/api/requests?limit=10&status=error`,
      `dashboard:  ${dashboard.url}/`,
    ],
    async close() {
      clearInterval(timer);
      await crew.app.close();
      await crew.services.stop();
      await dashboard.close(); // closes the tracker too
    },
  };
}
