import { afterEach, beforeEach, expect, it } from "vitest";
import {
  BudgetExceededError,
  createClient,
  ForbiddenError,
  NotFoundError,
  type RemoteClient,
  ValidationError,
} from "../../src/client/index.js";
import { captureLogger, tempDir } from "../support/helpers.js";
import { startServer, type TestServer } from "./server.js";

let dir: ReturnType<typeof tempDir>;
let server: TestServer;
const clients: RemoteClient[] = [];

const connect = (apiKey: string) => {
  const client = createClient({ url: server.url, apiKey, logger: captureLogger("error").logger });
  clients.push(client);
  return client;
};

beforeEach(async () => {
  dir = tempDir();
  server = await startServer(dir.file("server.db"));
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await server.stop();
  dir.cleanup();
});

/** A run of tenant A on the server: script completed, render failed, $0.50 of openai. */
async function failedRun(): Promise<string> {
  const { tracker } = server;
  const r = await tracker.createRequest({ userId: "u", tenantId: "A", input: { n: 1 } });
  await tracker.startRequest(r, "w");
  await tracker.trackStage(r, "script", () => "s");
  await tracker.recordCost(r, { service: "openai", amountUsd: 0.5 });
  await tracker.trackStage(r, "render", () => Promise.reject(new Error("x"))).catch(() => null);
  await tracker.failRequest(r, "render failed");
  await tracker.flush();
  return r.id;
}

it("replay and compare come back in the library's shapes, with Dates", async () => {
  const id = await failedRun();
  const writer = (await server.tracker.keys.create({ role: "writer", tenantId: "A" })).key;
  const client = connect(writer);
  const replay = await client.replay(id, { fromStage: "render", tags: ["again"] });
  expect(replay).toMatchObject({ replayOf: id, tenantId: "A", tags: ["again", "replay"] });
  expect(replay.createdAt).toBeInstanceOf(Date);
  expect(replay.stages.map((s) => [s.name, s.startedAt instanceof Date])).toEqual([
    ["script", true],
  ]);
  const c = await client.compare(id, replay.id);
  expect(c.left).toMatchObject({ id, status: "failed", costByService: { openai: 0.5 } });
  expect(c.right).toMatchObject({ id: replay.id, replayOf: id, status: "pending" });
  expect(c.right.createdAt).toBeInstanceOf(Date);
  expect(c.costDeltaUsd).toBe(-0.5);
});

it("replay rejects with the library's coded errors", async () => {
  const id = await failedRun();
  const writerB = connect(
    (await server.tracker.keys.create({ role: "writer", tenantId: "B" })).key,
  );
  await expect(writerB.replay(id)).rejects.toBeInstanceOf(NotFoundError);
  const writerA = connect(
    (await server.tracker.keys.create({ role: "writer", tenantId: "A" })).key,
  );
  const never = await writerA.replay(id, { fromStage: "upload" }).catch((e: unknown) => e);
  expect(never).toBeInstanceOf(ValidationError);
  expect((never as ValidationError).field).toBe("fromStage");
  await server.tracker.budgets.create({
    tenantId: "A",
    period: "day",
    amountUsd: 0.5,
    mode: "enforce",
  });
  const spent = await writerA.replay(id).catch((e: unknown) => e);
  expect(spent).toBeInstanceOf(BudgetExceededError);
  expect((spent as BudgetExceededError).budget.limitUsd).toBe(0.5);
  expect(await server.tracker.replays.of(id)).toEqual([]);
});

it("prices: an admin key sets and deletes versions, a writer key reads them", async () => {
  const admin = connect(server.adminKey as string);
  const writer = connect((await server.tracker.keys.create({ role: "writer", tenantId: "A" })).key);
  const price = await admin.prices.set({
    service: "openai",
    model: "gpt-4o*",
    inputUsdPerMillion: 2.5,
    effectiveFrom: new Date("2026-01-01T00:00:00Z"),
  });
  expect(price.effectiveFrom).toEqual(new Date("2026-01-01T00:00:00Z"));
  await expect(
    writer.prices.set({ service: "openai", model: "x", unitUsd: 1 }),
  ).rejects.toBeInstanceOf(ForbiddenError);
  const listed = await writer.prices.list({ service: "openai" });
  expect(listed.map((p) => [p.id, p.inputUsdPerMillion, p.createdAt instanceof Date])).toEqual([
    [price.id, 2.5, true],
  ]);
  const bad = await admin.prices
    .set({ service: "openai", model: "m", inputUsdPerMillion: -1 })
    .catch((e: unknown) => e);
  expect((bad as ValidationError).field).toBe("inputUsdPerMillion");
  await admin.prices.delete(price.id);
  expect(await writer.prices.list()).toEqual([]);
});
