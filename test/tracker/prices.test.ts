import { afterEach, beforeEach, expect, it } from "vitest";
import { type Tracker, ValidationError } from "../../src/index.js";
import { clockedTracker, describeEachStorage } from "../support/storages.js";

const JAN_1 = Date.UTC(2026, 0, 1);
const JAN_15_NOON = Date.UTC(2026, 0, 15, 12, 0, 0);
const HOUR = 3_600_000;

describeEachStorage("the price table", (storage) => {
  let tracker: Tracker;
  let time: Awaited<ReturnType<typeof clockedTracker>>["time"];

  beforeEach(async () => {
    ({ tracker, time } = await clockedTracker(storage, JAN_15_NOON));
  });
  afterEach(async () => {
    await tracker.close();
  });

  const tokens = (model: string, input: number, output: number) => ({
    model,
    inputTokens: input,
    outputTokens: output,
  });

  it("prices usage from the version in force at the cost's time, stores the price used, and never rewrites history", async () => {
    const v1 = await tracker.prices.set({
      service: "openai",
      model: "gpt-4o",
      inputUsdPerMillion: 2.5,
      outputUsdPerMillion: 10,
      effectiveFrom: JAN_1,
    });
    await tracker.prices.set({
      service: "openai",
      model: "gpt-4o",
      inputUsdPerMillion: 1.25,
      outputUsdPerMillion: 5,
      effectiveFrom: JAN_15_NOON + HOUR,
    });
    const req = await tracker.createRequest({ userId: "u" });
    // 1M input + 100k output at v1: 2.5 + 1.0 USD.
    await tracker.recordCost(req, { service: "openai", usage: tokens("gpt-4o", 1e6, 1e5) });
    time.advance(2 * HOUR);
    // The same usage after v2 took over: half the price.
    await tracker.recordCost(req, { service: "openai", usage: tokens("gpt-4o", 1e6, 1e5) });
    // A caller's amount wins over the table, and records no price.
    await tracker.recordCost(req, {
      service: "openai",
      amountUsd: 0.01,
      usage: tokens("gpt-4o", 1e6, 1e5),
    });
    const costs = (await tracker.getRequest(req))?.costs ?? [];
    expect(costs.map((c) => c.amountUsd)).toEqual([3.5, 1.75, 0.01]);
    expect(costs[0]?.price).toMatchObject({
      priceId: v1.id,
      pattern: "gpt-4o",
      model: "gpt-4o",
      inputUsdPerMillion: 2.5,
      effectiveFrom: new Date(JAN_1).toISOString(),
    });
    expect(costs[2]?.price).toBeNull();

    // A later price version does not touch what was recorded.
    await tracker.prices.set({
      service: "openai",
      model: "gpt-4o",
      inputUsdPerMillion: 100,
      effectiveFrom: JAN_1 + 1,
    });
    const again = (await tracker.getRequest(req))?.costs ?? [];
    expect(again.map((c) => c.amountUsd)).toEqual([3.5, 1.75, 0.01]);
    expect((await tracker.getRequest(req))?.costUsd).toBe(5.26);
  });

  it("takes an exact model before a pattern, and a longer pattern before a shorter one; units too", async () => {
    await tracker.prices.set({
      service: "openai",
      model: "*",
      inputUsdPerMillion: 100,
      effectiveFrom: JAN_1,
    });
    await tracker.prices.set({
      service: "openai",
      model: "gpt-4o*",
      inputUsdPerMillion: 2,
      effectiveFrom: JAN_1,
    });
    await tracker.prices.set({
      service: "openai",
      model: "gpt-4o-mini",
      inputUsdPerMillion: 0.15,
      effectiveFrom: JAN_1,
    });
    await tracker.prices.set({
      service: "veo",
      model: "*",
      unitUsd: 0.5,
      unit: "second",
      effectiveFrom: JAN_1,
    });
    const req = await tracker.createRequest({ userId: "u" });
    await tracker.recordCost(req, { service: "openai", usage: tokens("gpt-4o-mini", 1e6, 0) });
    await tracker.recordCost(req, { service: "openai", usage: tokens("gpt-4o-2024", 1e6, 0) });
    await tracker.recordCost(req, {
      service: "openai",
      usage: { model: "o3", prompt_tokens: 1000 },
    });
    await tracker.recordCost(req, { service: "veo", usage: { units: 8 } });
    const costs = (await tracker.getRequest(req))?.costs ?? [];
    expect(costs.map((c) => c.amountUsd)).toEqual([0.15, 2, 0.1, 4]);
    expect(costs.map((c) => c.price?.pattern)).toEqual(["gpt-4o-mini", "gpt-4o*", "*", "*"]);
  });

  it("refuses a cost with neither an amount nor a price that applies, naming the field, and writes nothing", async () => {
    const req = await tracker.createRequest({ userId: "u" });
    await tracker.prices.set({
      service: "openai",
      model: "gpt-4o",
      inputUsdPerMillion: 1,
      effectiveFrom: JAN_15_NOON + HOUR,
    });
    const cases: [unknown, string][] = [
      [{ service: "openai" }, "amountUsd"],
      // The price starts an hour after the cost's time.
      [{ service: "openai", usage: tokens("gpt-4o", 10, 0) }, "amountUsd"],
      [{ service: "openai", usage: { model: "gpt-4o" } }, "usage"],
      [{ service: "openai", amountUsd: -1 }, "amountUsd"],
      [{ service: "openai", amountUsd: Number.NaN }, "amountUsd"],
    ];
    for (const [cost, field] of cases) {
      const error = await tracker
        .recordCost(req, cost as { service: string })
        .catch((e: unknown) => e);
      expect(error, JSON.stringify(cost)).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).field).toBe(field);
    }
    expect((await tracker.getRequest(req))?.costs).toEqual([]);
  });

  it("refuses bad prices with a coded error naming the field", async () => {
    const cases: [unknown, string][] = [
      [{ service: "openai", model: "m", inputUsdPerMillion: -1 }, "inputUsdPerMillion"],
      [{ service: "openai", model: "m", unitUsd: Number.NaN }, "unitUsd"],
      [{ service: "openai", model: "m" }, "price"],
      [{ service: "openai", model: "a b", unitUsd: 1 }, "model"],
      [{ service: "openai", model: "m", unitUsd: 1, effectiveFrom: -5 }, "effectiveFrom"],
    ];
    for (const [price, field] of cases) {
      const error = await tracker.prices.set(price as never).catch((e: unknown) => e);
      expect(error, JSON.stringify(price)).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).field).toBe(field);
    }
    expect(await tracker.prices.list()).toEqual([]);
  });

  it("reprice recomputes a period on purpose: costs, request totals and the cost report follow", async () => {
    await tracker.prices.set({
      service: "openai",
      model: "gpt-4o",
      inputUsdPerMillion: 2,
      effectiveFrom: JAN_1,
    });
    const a = await tracker.createRequest({ userId: "u", tenantId: "acme", sessionId: "s1" });
    const b = await tracker.createRequest({ userId: "u", tenantId: "beta" });
    await tracker.recordCost(a, { service: "openai", usage: tokens("gpt-4o", 1e6, 0) });
    await tracker.recordCost(b, { service: "openai", usage: tokens("gpt-4o", 2e6, 0) });
    await tracker.recordCost(b, { service: "openai", amountUsd: 1 }); // a caller's: kept
    const period = { from: JAN_1, to: Date.UTC(2026, 0, 16) };
    expect((await tracker.costs.report(period)).totalCostUsd).toBe(7);

    // The January price was wrong: replace that version, then reprice January.
    await tracker.prices.set({
      service: "openai",
      model: "gpt-4o",
      inputUsdPerMillion: 3,
      effectiveFrom: JAN_1,
    });
    // Setting it rewrote nothing.
    expect((await tracker.costs.report(period)).totalCostUsd).toBe(7);
    const progress: { done: number; total: number }[] = [];
    const report = await tracker.prices.reprice({
      ...period,
      onProgress: (p) => progress.push(p),
    });
    expect(report).toEqual({ costs: 2, changed: 2, unpriced: 0, deltaUsd: 3 });
    expect(progress.at(-1)).toEqual({ done: 2, total: 2 });
    expect((await tracker.getRequest(a))?.costUsd).toBe(3);
    expect((await tracker.getRequest(b))?.costUsd).toBe(7);
    expect((await tracker.getRequest(a))?.costs[0]?.price?.inputUsdPerMillion).toBe(3);
    const after = await tracker.costs.report(period);
    expect(after.totalCostUsd).toBe(10);
    expect(after.byService).toEqual([{ service: "openai", records: 3, costUsd: 10 }]);
    expect(after.byTenant).toEqual([
      { tenantId: "beta", requests: 1, costUsd: 7 },
      { tenantId: "acme", requests: 1, costUsd: 3 },
    ]);
    expect(after.bySession.top).toEqual([{ sessionId: "s1", requests: 1, costUsd: 3 }]);
    // Nothing to change a second time.
    expect(await tracker.prices.reprice(period)).toMatchObject({ costs: 2, changed: 0 });
  });
});
