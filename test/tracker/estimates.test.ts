import { afterEach, beforeEach, expect, it } from "vitest";
import { BudgetExceededError, type Tracker, ValidationError } from "../../src/index.js";
import { clockedTracker, describeEachStorage } from "../support/storages.js";

const JAN_15_NOON = Date.UTC(2026, 0, 15, 12, 0, 0);

describeEachStorage("cost estimates reserved against budgets", (storage) => {
  let tracker: Tracker;

  beforeEach(async () => {
    ({ tracker } = await clockedTracker(storage, JAN_15_NOON));
  });
  afterEach(async () => {
    await tracker.close();
  });

  const enforce = (amountUsd: number) =>
    tracker.budgets.create({ tenantId: "acme", period: "day", amountUsd, mode: "enforce" });

  it("holds each running request's estimate, so creates stop before the limit is spent", async () => {
    const budget = await enforce(1);
    const a = await tracker.createRequest({ userId: "u", tenantId: "acme", estimatedCostUsd: 0.4 });
    const b = await tracker.createRequest({ userId: "u", tenantId: "acme", estimatedCostUsd: 0.4 });
    expect(a.estimatedCostUsd).toBe(0.4);
    // 0.8 held: a third estimate of 0.4 would take the budget past 1 USD.
    await expect(
      tracker.createRequest({ userId: "u", tenantId: "acme", estimatedCostUsd: 0.4 }),
    ).rejects.toBeInstanceOf(BudgetExceededError);
    // Another tenant is not held back by acme's reservations.
    await tracker.createRequest({ userId: "u", tenantId: "other", estimatedCostUsd: 0.4 });
    const status = await tracker.budgets.status(budget.id);
    expect(status).toMatchObject({ spentUsd: 0, reservedUsd: 0.8 });
    expect(status.remainingUsd).toBeCloseTo(0.2, 10);
    // The refused create wrote nothing.
    expect((await tracker.listRequests({ tenantId: "acme" })).total).toBe(2);
    expect((await tracker.getRequest(a.id))?.estimatedCostUsd).toBe(0.4);
    void b;
  });

  it("replaces the estimate by the real cost as it is recorded, and releases the rest at the end", async () => {
    const budget = await enforce(1);
    const a = await tracker.createRequest({ userId: "u", tenantId: "acme", estimatedCostUsd: 0.5 });
    await tracker.startRequest(a);
    await tracker.recordCost(a, { service: "openai", amountUsd: 0.2 });
    await tracker.budgets.evaluate();
    expect(await tracker.budgets.status(budget.id)).toMatchObject({
      spentUsd: 0.2,
      reservedUsd: 0.3,
    });
    await tracker.completeRequest(a);
    await tracker.budgets.evaluate();
    expect(await tracker.budgets.status(budget.id)).toMatchObject({
      spentUsd: 0.2,
      reservedUsd: 0,
      remainingUsd: 0.8,
    });
    // With the estimate released, a create that fits goes through again.
    await tracker.createRequest({ userId: "u", tenantId: "acme", estimatedCostUsd: 0.7 });
  });

  it("a request spending more than its estimate holds nothing more (spend counts as spend)", async () => {
    const budget = await enforce(1);
    const a = await tracker.createRequest({ userId: "u", tenantId: "acme", estimatedCostUsd: 0.1 });
    await tracker.startRequest(a);
    await tracker.recordCost(a, { service: "openai", amountUsd: 0.3 });
    await tracker.budgets.evaluate();
    expect(await tracker.budgets.status(budget.id)).toMatchObject({
      spentUsd: 0.3,
      reservedUsd: 0,
    });
  });

  it("rejects a negative or NaN estimate, naming the field, and writes nothing", async () => {
    await enforce(1);
    for (const estimatedCostUsd of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      const error = await tracker
        .createRequest({ userId: "u", tenantId: "acme", estimatedCostUsd })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).field).toBe("estimatedCostUsd");
    }
    expect((await tracker.listRequests({})).total).toBe(0);
  });
});
