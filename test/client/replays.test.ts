import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  BudgetExceededError,
  createClient,
  NotFoundError,
  type RemoteClient,
  ValidationError,
} from "../../src/client/index.js";
import { captureLogger, tempDir } from "../support/helpers.js";
import { startServer, type TestServer } from "./server.js";

describe("remote client: replay, compare, bulk replay and prices", () => {
  let dir: ReturnType<typeof tempDir>;
  let server: TestServer;
  let client: RemoteClient;

  beforeEach(async () => {
    dir = tempDir();
    server = await startServer(dir.file("server.db"));
    client = createClient({
      url: server.url,
      apiKey: server.adminKey as string,
      logger: captureLogger("error").logger,
    });
  });
  afterEach(async () => {
    await client.close();
    await server.stop();
    dir.cleanup();
  });

  it("replays a request it just wrote, lists and compares it, with Dates", async () => {
    const req = await client.createRequest({ userId: "u", kind: "video", input: { n: 1 } });
    await client.startRequest(req, "w");
    await client.trackStage(req, "script", async () => "ok");
    await client.recordCost(req, { service: "veo", amountUsd: 0.25 });
    await client.failRequest(req, "boom");

    // The writes above are still queued in the client: replay reads after them.
    const again = await client.replay(req, { input: { n: 2 } });
    expect(again).toMatchObject({ replayOf: req.id, status: "pending", input: { n: 2 } });
    expect(again.createdAt).toBeInstanceOf(Date);
    expect(await client.getRequest(again.id)).toEqual(await server.tracker.getRequest(again.id));

    const replays = await client.replays.of(req.id);
    expect(replays.map((r) => r.id)).toEqual([again.id]);
    expect(replays[0]?.createdAt).toBeInstanceOf(Date);

    const compared = await client.replays.compare(req.id, again.id);
    expect(compared).toMatchObject({
      left: { id: req.id, status: "failed", costByService: { veo: 0.25 } },
      right: { id: again.id, replayOf: req.id },
      costDeltaUsd: -0.25,
    });
    expect(compared.left.createdAt).toBeInstanceOf(Date);
  });

  it("raises the library's errors: bad options before any call, unknown ids, spent budgets", async () => {
    const req = await client.createRequest({ userId: "u", tenantId: "t" });
    await expect(client.replay(req, { fromStag: "x" } as never)).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(client.replay("req_unknown")).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.replay(req, { fromStage: "nope" })).rejects.toMatchObject({
      code: "RT_ERR_VALIDATION",
    });

    await server.tracker.budgets.create({
      tenantId: "t",
      period: "day",
      amountUsd: 1,
      mode: "enforce",
    });
    await client.recordCost(req, { service: "x", amountUsd: 2 });
    await client.flush();
    await server.tracker.budgets.evaluate();
    await expect(client.replay(req)).rejects.toBeInstanceOf(BudgetExceededError);
    expect(await client.replays.of(req.id)).toEqual([]);
  });

  it("starts a bulk replay on the server and follows its job", async () => {
    for (let i = 0; i < 3; i++) {
      const r = await client.createRequest({ userId: "u", kind: "bulk" });
      await client.startRequest(r, "w");
      await client.failRequest(r, "x");
    }
    const job = await client.replays.start(
      { kind: "bulk", status: "failed" },
      { ratePerSecond: 1000 },
    );
    expect(job).toMatchObject({ total: 3, status: "running" });
    let now = job;
    for (let i = 0; i < 200 && now.status !== "completed"; i++) {
      now = (await client.replays.job(job.id)) ?? now;
    }
    expect(now).toMatchObject({ status: "completed", done: 3 });
    expect(now.updatedAt).toBeInstanceOf(Date);
    expect(await client.replays.job("rjob_nope")).toBeNull();
  });

  it("reads and sets prices, and prices usage by them", async () => {
    const price = await client.prices.set({
      service: "openai",
      model: "gpt-4o",
      inputUsdPerMillion: 1,
    });
    expect(price.effectiveFrom).toBeInstanceOf(Date);
    expect((await client.prices.list({ service: "openai" })).map((p) => p.id)).toEqual([price.id]);
    await expect(client.prices.set({ service: "openai", model: "" })).rejects.toBeInstanceOf(
      ValidationError,
    );
    const req = await client.createRequest({ userId: "u" });
    await client.recordCost(req, {
      service: "openai",
      usage: { model: "gpt-4o", inputTokens: 2_000_000 },
    });
    expect((await client.getRequest(req))?.costUsd).toBeCloseTo(2, 10);
    expect(await client.prices.delete(price.id)).toBe(true);
    expect(await client.prices.delete(price.id)).toBe(false);
  });
});
