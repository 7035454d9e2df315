import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createTracker,
  currentRequest,
  currentRequestId,
  propagationHeaders,
  type Tracker,
} from "../../src/index.js";
import type { HttpTrackingOptions } from "../../src/integrations/http-core.js";
import { captureLogger, type LogLine } from "../support/helpers.js";

/** Seed 004's operation types, as a route table. */
export const SEED_004_ROUTES = {
  "POST /api/entities": "entity_create",
  "GET /api/entities/:entityId": "entity_read",
  "DELETE /api/entities/:entityId": "entity_delete",
  "POST /api/entities/:entityId/files": "file_upload",
  "DELETE /api/entities/:entityId/files/:docId": "file_delete",
  "POST /api/chat": "chat_message",
  "POST /api/chat/sessions": "chat_session_create",
  "DELETE /api/chat/sessions/:sessionId": "chat_session_delete",
  "POST /api/search": "search",
  "GET /api/knowledge-graph": "knowledge_graph",
  "GET /api/status/workers": "status",
  "GET /health": "health",
} as const;

export const SUITE_OPTIONS: HttpTrackingOptions = {
  routes: SEED_004_ROUTES,
  tenant: { param: "entityId", header: "x-entity-id" },
  session: { header: "x-session-id" },
};

/**
 * The app every adapter serves, framework-neutral: each adapter test wires these handlers to
 * its framework's routes (same paths, same methods) and answers with their JSON.
 *
 *   GET  /api/entities/:entityId        read
 *   POST /api/entities/:entityId/files  upload (JSON body; records a cost)
 *   POST /api/chat                      chat (answers with the propagation headers)
 *   GET  /api/boom                      throws -> 500
 *   GET  /health                        outside /api: not tracked
 */
export const handlers = {
  read(tracker: Tracker, entityId: string) {
    tracker.logger.info({ entity: entityId }, "reading entity");
    return { entityId, seen: currentRequestId() };
  },
  async upload(body: unknown) {
    // Seen after the body parser, which calls back from stream events.
    const seen = currentRequestId();
    await currentRequest()?.recordCost({
      service: "file_processor",
      amountUsd: 0.0123,
      usage: { pages: 3 },
    });
    // Who the call is for, when only the body says so: its cost moves with it.
    const owner = (body as { owner?: Record<string, string> } | null)?.owner;
    if (owner) await currentRequest()?.setContext(owner);
    return { seen, body };
  },
  chat() {
    return { seen: currentRequestId(), headers: propagationHeaders() };
  },
  boom(): never {
    throw new Error("vector store unreachable");
  },
  health() {
    return { ok: true, seen: currentRequestId() };
  },
};

/** A server running the app above for `tracker`, wired through one adapter. */
export interface RunningApp {
  url: string;
  close(): Promise<void>;
}

export type StartApp = (tracker: Tracker, options: HttpTrackingOptions) => Promise<RunningApp>;

/** The behaviour every HTTP adapter must show, run once per adapter against its framework. */
export function describeHttpAdapter(
  name: string,
  start: StartApp,
  /** Plain node:http has no router: only the table's patterns are known. */
  { routePatterns = true }: { routePatterns?: boolean } = {},
): void {
  describe(`${name} middleware`, () => {
    let tracker: Tracker;
    let app: RunningApp;
    let lines: LogLine[];

    beforeAll(async () => {
      const captured = captureLogger("info");
      lines = captured.lines;
      tracker = await createTracker({
        storage: ":memory:",
        logger: captured.logger,
        watchdogIntervalMs: 0,
      });
      app = await start(tracker, SUITE_OPTIONS);
    });
    afterAll(async () => {
      await app.close();
      await tracker.close();
    });

    const call = (path: string, init?: RequestInit) => fetch(`${app.url}${path}`, init);
    /** The stored request once its outcome is recorded (after the response went out). */
    const stored = async (id: string) => {
      for (let turn = 0; turn < 1000; turn++) {
        await tracker.flush();
        const request = await tracker.getRequest(id);
        if (request && request.status !== "running" && request.status !== "pending") {
          return request;
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
      throw new Error(`request ${id} has no outcome recorded`);
    };

    it("tracks a call: req_ id on the response, kind by route table, route pattern, status, time", async () => {
      const response = await call("/api/entities/company_123", {
        headers: { "x-session-id": "session_xyz" },
      });
      expect(response.status).toBe(200);
      const id = response.headers.get("x-request-id") ?? "";
      expect(id).toMatch(/^req_[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(await response.json()).toEqual({ entityId: "company_123", seen: id });
      const request = await stored(id);
      expect(request).toMatchObject({
        status: "completed",
        kind: "entity_read",
        tenantId: "company_123",
        sessionId: "session_xyz",
        userId: "anonymous",
        source: "http",
        input: { method: "GET", route: "/api/entities/:entityId" },
        result: { statusCode: 200, route: "/api/entities/:entityId" },
      });
      expect(JSON.stringify(request)).not.toContain("/api/entities/company_123");
      const { processingMs } = request.result as { processingMs: number };
      expect(processingMs).toBeGreaterThanOrEqual(0);
      expect(request.durationMs).toBeGreaterThanOrEqual(0);
    });

    it("keeps a valid incoming X-Request-ID and replaces an invalid one", async () => {
      const valid = await call("/api/entities/e1", {
        headers: { "x-request-id": "client-42.a_b" },
      });
      expect(valid.headers.get("x-request-id")).toBe("client-42.a_b");
      expect((await stored("client-42.a_b")).kind).toBe("entity_read");
      for (const bad of ["x".repeat(129), "has space", "slash/y", "-leading-dash"]) {
        const response = await call("/api/entities/e1", { headers: { "x-request-id": bad } });
        expect(response.headers.get("x-request-id")).toMatch(/^req_/);
      }
    });

    it("takes an incoming traceparent as correlation id and propagates it to outgoing calls", async () => {
      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
      const response = await call("/api/chat", {
        method: "POST",
        headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      });
      const id = response.headers.get("x-request-id") ?? "";
      const body = (await response.json()) as { seen: string; headers: Record<string, string> };
      expect(body.seen).toBe(id);
      expect(body.headers["X-Request-ID"]).toBe(id);
      expect(body.headers["X-Correlation-ID"]).toBe(traceId);
      expect(body.headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
      expect(body.headers.traceparent).not.toContain("00f067aa0ba902b7");
      expect(await stored(id)).toMatchObject({ kind: "chat_message", correlationId: traceId });
    });

    it("records costs added in the handler through currentRequest(), after body parsing", async () => {
      const response = await call("/api/entities/company_9/files", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "report.pdf" }),
      });
      expect(response.status).toBe(201);
      const id = response.headers.get("x-request-id") ?? "";
      expect(await response.json()).toEqual({ seen: id, body: { name: "report.pdf" } });
      const request = await stored(id);
      expect(request).toMatchObject({
        kind: "file_upload",
        tenantId: "company_9",
        costUsd: 0.0123,
        result: { statusCode: 201, route: "/api/entities/:entityId/files" },
      });
      expect(request.costs).toMatchObject([{ service: "file_processor", usage: { pages: 3 } }]);
    });

    it("lets the handler set tenant, session and user on the current request; its cost follows", async () => {
      const owner = { tenantId: "org_77", sessionId: "chat_5", userId: "ent_3" };
      const response = await call("/api/entities/company_9/files", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "a.pdf", owner }),
      });
      expect(response.status).toBe(201);
      const request = await stored(response.headers.get("x-request-id") ?? "");
      expect(request).toMatchObject({ ...owner, kind: "file_upload", costUsd: 0.0123 });
      const report = await tracker.costs.report({ tenantId: "org_77" });
      expect(report).toMatchObject({ totalRequests: 1, totalCostUsd: 0.0123 });
      expect(report.bySession.top).toEqual([{ sessionId: "chat_5", requests: 1, costUsd: 0.0123 }]);
    });

    it("records the error message on a 5xx and fails the request", async () => {
      const response = await call("/api/boom");
      expect(response.status).toBe(500);
      const request = await stored(response.headers.get("x-request-id") ?? "");
      expect(request).toMatchObject({
        status: "failed",
        kind: "other",
        errorMessage: "vector store unreachable",
        errorDetails: { statusCode: 500, method: "GET", route: routePatterns ? "/api/boom" : null },
      });
    });

    it("records an unknown /api route as kind other with its 404", async () => {
      const response = await call("/api/nowhere/at/all");
      expect(response.status).toBe(404);
      const request = await stored(response.headers.get("x-request-id") ?? "");
      expect(request).toMatchObject({
        status: "completed",
        kind: "other",
        result: { statusCode: 404 },
      });
    });

    it("leaves paths outside /api alone", async () => {
      const before = (await tracker.listRequests({ limit: 1000 })).total;
      const response = await call("/health");
      expect(response.status).toBe(200);
      expect(response.headers.get("x-request-id")).toBeNull();
      expect(await response.json()).toEqual({ ok: true, seen: "unknown" });
      await tracker.flush();
      expect((await tracker.listRequests({ limit: 1000 })).total).toBe(before);
    });

    it("adds request_id to every line the handler logs through tracker.logger", async () => {
      const response = await call("/api/entities/logged");
      const id = response.headers.get("x-request-id");
      const line = lines.find((l) => l.msg === "reading entity" && l.entity === "logged");
      expect(line?.request_id).toBe(id);
    });

    it("never fails the app's response when tracking fails", async () => {
      const closed = await createTracker({
        storage: ":memory:",
        logger: captureLogger().logger,
        watchdogIntervalMs: 0,
      });
      await closed.close();
      const throwing: HttpTrackingOptions = {
        ...SUITE_OPTIONS,
        tenant: () => {
          throw new Error("buggy extractor");
        },
      };
      for (const [t, options] of [
        [closed, SUITE_OPTIONS],
        [tracker, throwing],
      ] as const) {
        const broken = await start(t, options);
        try {
          const response = await fetch(`${broken.url}/api/entities/e7`);
          expect(response.status).toBe(200);
          expect(((await response.json()) as { entityId: string }).entityId).toBe("e7");
        } finally {
          await broken.close();
        }
      }
    });
  });
}
