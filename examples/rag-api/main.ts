import { mkdirSync } from "node:fs";
import type { Server } from "node:http";
import { serve } from "reqtrack/server";
import type { RunningExample } from "../run.js";
import { createRagApi } from "./apps.js";

/**
 * The demo: the API on Fastify (port) and on Express (port + 1), one tracker behind both, a
 * few chat messages a minute from two entities, the dashboard on port + 100.
 */
export async function main(port: number): Promise<RunningExample> {
  mkdirSync("data/examples", { recursive: true });
  const api = await createRagApi({ storage: "data/examples/rag-api.db" });
  await api.fastify.listen({ port, host: "127.0.0.1" });
  const url = `http://127.0.0.1:${port}`;
  const express: Server = await new Promise((resolve) => {
    const server = api.express.listen(port + 1, "127.0.0.1", () => resolve(server));
  });
  const dashboard = await serve({ tracker: api.tracker, port: port + 100 });
  const post = (path: string, body: unknown) =>
    fetch(`${url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    }).then((r) => r.json() as Promise<Record<string, string>>);
  const sessions: { entity_id: string; session_id: string }[] = [];
  for (const entity_id of ["company_123", "company_456"]) {
    await post("/api/entities", { entity_id });
    await post(`/api/entities/${entity_id}/files`, {
      filename: "handbook.txt",
      content: "Refunds are paid within 14 days.\n\nSupport answers within one business day.",
    });
    const session = await post("/api/chat/sessions", { entity_id });
    sessions.push({ entity_id, session_id: session.session_id ?? "" });
  }
  let n = 0;
  const timer = setInterval(() => {
    const session = sessions[n++ % sessions.length];
    void post("/api/chat", { ...session, message: "How fast are refunds paid?" }).catch(() => {});
  }, 4000);
  return {
    lines: [
      `API (Fastify):   ${url}/api/chat  (POST {entity_id, session_id, message})`,
      `API (Express):   http://127.0.0.1:${port + 1}/api/chat  (same routes, same tracker)`,
      `history:         ${url}/api/requests?page=1&page_size=20&entity_id=company_123`,
      `cost report:     ${url}/api/cost-report?entity_id=company_123`,
      `dashboard:       ${dashboard.url}/`,
    ],
    async close() {
      clearInterval(timer);
      await api.fastify.close();
      await new Promise((resolve) => express.close(resolve));
      await dashboard.close();
    },
  };
}
