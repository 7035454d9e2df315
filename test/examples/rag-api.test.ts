import type { Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { createRagApi, type RagApiApps } from "../../examples/rag-api/apps.js";
import { PRICES } from "../../examples/rag-api/fake-services.js";
import { manualTime } from "../../examples/shared/time.js";
import { silentLogger } from "../support/helpers.js";

type Json = Record<string, unknown>;
interface SeedRequest {
  request_id: string;
  operation_type: string;
  method: string;
  endpoint: string;
  entity_id: string | null;
  session_id: string | null;
  status_code: number;
  processing_time_ms: number;
  services_used: { service_type: string; cost_usd: number; breakdown: Json }[];
  total_cost_usd: number;
}

// Seed 004: a RAG API whose every call is tracked by middleware, with costs and cost reports.
describe("example rag-api (seed 004)", () => {
  let api: RagApiApps | undefined;
  let express: Server | undefined;
  afterEach(async () => {
    if (express) await new Promise((resolve) => express?.close(resolve));
    express = undefined;
    await api?.fastify.close();
    await api?.tracker.close();
    api = undefined;
  });

  /** The API on Fastify and on Express, both listening; their base URLs. */
  async function start() {
    const time = manualTime();
    api = await createRagApi({
      storage: ":memory:",
      clock: time.clock,
      wait: time.wait,
      logger: silentLogger(),
    });
    await api.fastify.listen({ port: 0, host: "127.0.0.1" });
    const server: Server = await new Promise((resolve) => {
      const s = (api as RagApiApps).express.listen(0, "127.0.0.1", () => resolve(s));
    });
    express = server;
    const port = (s: Server) => (s.address() as { port: number }).port;
    return {
      fastify: `http://127.0.0.1:${port(api.fastify.server)}`,
      express: `http://127.0.0.1:${port(server)}`,
    };
  }
  const call = async (base: string, method: string, path: string, body?: unknown) => {
    const response = await fetch(`${base}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
    });
    return {
      status: response.status,
      id: response.headers.get("x-request-id"),
      body: (await response.json()) as Json,
    };
  };

  /** An entity with one document and one chat session, and a chat message in it. */
  async function scenario(base: string, entity: string) {
    await call(base, "POST", "/api/entities", { entity_id: entity });
    await call(base, "POST", `/api/entities/${entity}/files`, {
      filename: "handbook.txt",
      content: "Refunds are paid within 14 days.\n\nSupport answers within one business day.",
    });
    const session = (await call(base, "POST", "/api/chat/sessions", { entity_id: entity })).body;
    const chat = await call(base, "POST", "/api/chat", {
      entity_id: entity,
      session_id: session.session_id,
      message: "How fast are refunds paid?",
    });
    await call(base, "POST", "/api/search", { entity_id: entity, query: "support answers" });
    await call(base, "GET", `/api/knowledge-graph?entity_id=${entity}`);
    return { sessionId: session.session_id as string, chat };
  }
  const history = async (base: string, query: string) => {
    await api?.tracker.flush();
    return (await call(base, "GET", `/api/requests?${query}`)).body as unknown as {
      requests: SeedRequest[];
      total: number;
      page: number;
      page_size: number;
    };
  };

  it("tracks every call with a req_ id, the seed's operation type, and the entity and session from path or body", async () => {
    const { fastify } = await start();
    const { sessionId, chat } = await scenario(fastify, "company_123");
    expect(chat.status).toBe(200);
    expect(chat.id).toMatch(/^req_[0-9a-f-]{36}$/);
    const page = await history(fastify, "entity_id=company_123");
    expect(page.total).toBe(6);
    expect(page.requests.map((r) => r.operation_type).sort()).toEqual([
      "chat_message",
      "chat_session_create",
      "entity_create",
      "file_upload",
      "knowledge_graph",
      "search",
    ]);
    const message = page.requests.find((r) => r.operation_type === "chat_message") as SeedRequest;
    expect(message).toMatchObject({
      request_id: chat.id,
      endpoint: "/api/chat",
      method: "POST",
      entity_id: "company_123",
      session_id: sessionId,
      status_code: 200,
    });
    expect(message.processing_time_ms).toBeGreaterThan(0);
    // The session a handler made is set on the call that made it.
    const created = page.requests.find((r) => r.operation_type === "chat_session_create");
    expect(created?.session_id).toBe(sessionId);
    // Health is outside /api, and reading the history does not add to it.
    await call(fastify, "GET", "/health");
    expect((await history(fastify, "")).total).toBe(6);
  });

  it("records each service's cost per call and reports them by service, operation, entity and session", async () => {
    const { fastify } = await start();
    const a = await scenario(fastify, "company_123");
    await scenario(fastify, "company_456");
    const detail = (await call(fastify, "GET", `/api/requests/${a.chat.id}`))
      .body as unknown as SeedRequest;
    const tokens = detail.services_used.find((s) => s.service_type === "openai")?.breakdown
      .tokens as number;
    expect(detail.services_used.map((s) => s.service_type)).toEqual(["transformer", "openai"]);
    expect(detail.services_used[1]?.cost_usd).toBeCloseTo(tokens * PRICES.openaiPerToken, 6);
    expect(detail.total_cost_usd).toBeCloseTo(
      detail.services_used.reduce((sum, s) => sum + s.cost_usd, 0),
      6,
    );

    const report = (await call(fastify, "GET", "/api/cost-report")).body as {
      total_requests: number;
      total_cost_usd: number;
      average_cost_per_request: number;
    } & Record<
      `breakdown_by_${"service" | "operation" | "entity" | "session"}`,
      Record<string, number>
    >;
    expect(report.total_requests).toBe(12);
    expect(Object.keys(report.breakdown_by_service).sort()).toEqual([
      "file_processor",
      "openai",
      "transformer",
    ]);
    const sum = (m: Record<string, number>) => Object.values(m).reduce((s, v) => s + v, 0);
    for (const key of [
      "breakdown_by_service",
      "breakdown_by_operation",
      "breakdown_by_entity",
    ] as const) {
      expect(sum(report[key])).toBeCloseTo(report.total_cost_usd, 6);
    }
    expect(report.breakdown_by_session[a.sessionId]).toBeCloseTo(detail.total_cost_usd, 6);
    expect(report.average_cost_per_request).toBeCloseTo(report.total_cost_usd / 12, 6);

    const one = (await call(fastify, "GET", "/api/cost-report?entity_id=company_123")).body;
    expect(one.total_cost_usd).toBeCloseTo(report.breakdown_by_entity.company_123 as number, 6);
    expect(Object.keys(one.breakdown_by_entity as Json)).toEqual(["company_123"]);
    const session = (await call(fastify, "GET", `/api/cost-report?session_id=${a.sessionId}`)).body;
    expect(session.total_cost_usd).toBeCloseTo(detail.total_cost_usd, 6);
  });

  it("pages the history with page and page_size (default 20, at most 100) and refuses bad paging with 400", async () => {
    const { fastify } = await start();
    for (let i = 0; i < 25; i++) await call(fastify, "GET", "/api/status/workers");
    const first = await history(fastify, "");
    expect(first).toMatchObject({ total: 25, page: 1, page_size: 20 });
    expect(first.requests).toHaveLength(20);
    const second = await history(fastify, "page=2&page_size=20");
    expect(second.requests).toHaveLength(5);
    const ids = new Set([...first.requests, ...second.requests].map((r) => r.request_id));
    expect(ids.size).toBe(25);
    for (const [query, field] of [
      ["page_size=101", "page_size"],
      ["page=0", "page"],
      ["page_size=abc", "page_size"],
    ]) {
      const bad = await call(fastify, "GET", `/api/requests?${query}`);
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({ code: "RT_ERR_VALIDATION", field });
    }
    expect((await call(fastify, "GET", "/api/requests/req_nope")).status).toBe(404);
  });

  it("soft-deletes an entity, keeps its costs in the report, and answers unknown entities with 404", async () => {
    const { fastify } = await start();
    await scenario(fastify, "company_123");
    const before = (await call(fastify, "GET", "/api/cost-report?entity_id=company_123")).body;
    const deleted = await call(fastify, "DELETE", "/api/entities/company_123");
    expect(deleted.body).toMatchObject({ success: true, sessions_deactivated: 1 });
    expect((await call(fastify, "GET", "/api/entities/company_123")).status).toBe(404);
    const after = (await call(fastify, "GET", "/api/cost-report?entity_id=company_123")).body;
    expect(after.total_cost_usd).toBeCloseTo(before.total_cost_usd as number, 6);
    const ops = (await history(fastify, "entity_id=company_123")).requests.map(
      (r) => r.operation_type,
    );
    expect(ops).toContain("entity_delete");
    expect(ops).toContain("entity_read");
    const bad = await call(fastify, "POST", "/api/chat", { entity_id: "company_123" });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ field: "session_id" });
  });

  it("serves the same routes on Express behind the same middleware, with the same records", async () => {
    const { fastify, express: expressUrl } = await start();
    const { sessionId, chat } = await scenario(expressUrl, "company_789");
    expect(chat.status).toBe(200);
    const page = await history(fastify, "entity_id=company_789");
    expect(page.total).toBe(6);
    const message = page.requests.find((r) => r.request_id === chat.id);
    expect(message).toMatchObject({
      operation_type: "chat_message",
      session_id: sessionId,
      status_code: 200,
    });
    expect(message?.services_used.map((s) => s.service_type)).toEqual(["transformer", "openai"]);
    const viaExpress = await call(
      expressUrl,
      "GET",
      `/api/requests?entity_id=company_789&page_size=3`,
    );
    expect(viaExpress.body).toMatchObject({ total: 6, page_size: 3 });
    expect((await call(expressUrl, "GET", "/api/requests?page_size=500")).status).toBe(400);
  });
});
