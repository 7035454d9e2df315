import { afterEach, expect, it } from "vitest";
import { buildApp } from "../support/app.js";
import { createTracker, type Tracker } from "../../src/index.js";
import { describeEachStorage } from "../support/storages.js";
import { captureLogger, fakeClock, tempDir } from "../support/helpers.js";

describeEachStorage("a keyless server once a key exists", (storage) => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** Two trackers on one store: the server's, and another process's (`reqtrack keys create`). */
  async function twoTrackers(clock: () => number): Promise<[Tracker, Tracker]> {
    let where = await storage.fresh();
    if (storage.name === "sqlite") {
      const dir = tempDir();
      cleanups.push(() => dir.cleanup());
      where = { storage: dir.file("keys.db") };
    }
    const open = () =>
      createTracker({
        ...where,
        clock,
        watchdogIntervalMs: 0,
        logger: captureLogger("error").logger,
      });
    const server = await open();
    cleanups.push(() => server.close());
    const other = await open();
    cleanups.push(() => other.close());
    return [server, other];
  }

  it("requires keys within a second of a key made by another process, without a restart", async () => {
    const time = fakeClock();
    const [tracker, other] = await twoTrackers(time.clock);
    const app = await buildApp({ tracker, logger: false });
    cleanups.push(() => app.close());
    const list = (headers: Record<string, string> = {}) =>
      app.inject({ method: "GET", url: "/api/v1/requests", headers });
    expect((await list()).statusCode).toBe(200);

    const { key } = await other.keys.create({ role: "admin" });
    time.advance(1_000);
    const refused = await list();
    expect(refused.statusCode).toBe(401);
    expect(refused.json()).toMatchObject({ code: "RT_ERR_UNAUTHORIZED" });
    expect((await list({ authorization: `Bearer ${key}` })).statusCode).toBe(200);
    expect((await app.inject({ method: "GET", url: "/readyz" })).json()).toMatchObject({
      open: false,
    });
  });

  it("requires keys at once after a key made through its own tracker", async () => {
    const time = fakeClock();
    const [tracker] = await twoTrackers(time.clock);
    const app = await buildApp({ tracker, logger: false });
    cleanups.push(() => app.close());
    expect((await app.inject({ method: "GET", url: "/api/v1/requests" })).statusCode).toBe(200);
    await tracker.keys.create({ role: "admin" });
    expect((await app.inject({ method: "GET", url: "/api/v1/requests" })).statusCode).toBe(401);
  });
});
