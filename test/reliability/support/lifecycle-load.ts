import { expect } from "vitest";
import type { Tracker } from "../../../src/index.js";

/**
 * A steady stream of whole lifecycles through a tracker (create, start, two events, a cost,
 * complete), `concurrency` at a time, until `stop()`. Every call's failure is collected:
 * in degrade mode there must be none.
 */
/** What the load calls: a tracker, or the remote client with the same method names. */
export interface Writer {
  createRequest(input: { userId: string; tenantId: string; kind: string }): Promise<{ id: string }>;
  startRequest(ref: string, workerId: string): Promise<void>;
  logEvent(ref: string, event: { type: string; message: string }): Promise<void>;
  recordCost(ref: string, cost: { service: string; amountUsd: number }): Promise<void>;
  completeRequest(ref: string, result: unknown): Promise<void>;
}

export function lifecycleLoad(tracker: Writer, concurrency = 8) {
  const ids: string[] = [];
  const failures: unknown[] = [];
  let running = true;
  let n = 0;
  const one = async () => {
    const i = n++;
    const { id: req } = await tracker.createRequest({
      userId: `u${i % 7}`,
      tenantId: `t${i % 3}`,
      kind: "load",
    });
    ids.push(req);
    await tracker.startRequest(req, "w");
    await tracker.logEvent(req, { type: "note", message: "one" });
    await tracker.recordCost(req, { service: "openai", amountUsd: 0.001 });
    await tracker.logEvent(req, { type: "note", message: "two" });
    await tracker.completeRequest(req, { i });
  };
  const lane = async () => {
    while (running) {
      try {
        await one();
      } catch (error) {
        failures.push(error);
      }
      // Let timers (the outage's, the replay's) run between lifecycles.
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  const lanes = Promise.all(Array.from({ length: concurrency }, lane));
  return {
    ids,
    failures,
    started: () => n,
    async stop() {
      running = false;
      await lanes;
    },
  };
}

/** Every id is stored once, completed, with both events and its cost: written exactly once. */
export async function expectWrittenOnce(tracker: Tracker, ids: readonly string[]): Promise<void> {
  expect(new Set(ids).size).toBe(ids.length);
  for (const id of ids) {
    const got = await tracker.getRequest(id);
    expect(got, id).toMatchObject({ status: "completed", costUsd: 0.001 });
    expect(got?.costs).toHaveLength(1);
    const types = (await tracker.getEvents(id)).map((e) => e.type);
    expect(types, id).toEqual([
      "request_created",
      "status_changed",
      "note",
      "note",
      "status_changed",
    ]);
  }
  expect((await tracker.listRequests({ limit: 0 })).total).toBe(ids.length);
}
