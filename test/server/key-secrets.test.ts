import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTracker, type Tracker } from "../../src/index.js";
import { buildApp } from "../support/app.js";
import { MAX_ACTIVE_KEYS } from "../../src/tracker/api-keys.js";
import { captureLogger, tempDir } from "../support/helpers.js";

describe("API key secrets", () => {
  let dir: ReturnType<typeof tempDir>;
  let tracker: Tracker;
  const log = captureLogger("debug");
  beforeEach(async () => {
    dir = tempDir("reqtrack-keys-");
    log.lines.length = 0;
    tracker = await createTracker({ storage: dir.file("s.db"), logger: log.logger });
  });
  afterEach(async () => {
    await tracker.close();
    dir.cleanup();
  });

  it("are stored only as hashes and never reach a log line, however they are used", async () => {
    const admin = await tracker.keys.create({ role: "admin" });
    const writer = await tracker.keys.create({ role: "writer", tenantId: "a" });
    const viewer = await tracker.keys.create({ role: "viewer", tenantId: "a" });
    // Fastify's request logging at debug: every line it would write is captured.
    const app = await buildApp({ tracker, logger: log.logger.child({ component: "http" }) });
    try {
      const calls: [string, string, string, unknown?][] = [
        [admin.key, "GET", "/api/v1/requests"],
        [writer.key, "POST", "/api/v1/requests", { userId: "u" }],
        [viewer.key, "POST", "/api/v1/requests", { userId: "u" }], // 403
        [`${writer.key}x`, "GET", "/api/v1/requests"], // 401, unknown
        [writer.key, "POST", "/api/v1/requests", "{not json"], // 400
        [viewer.key, "GET", "/api/v1/nope"], // 404
      ];
      for (const [key, method, url, body] of calls) {
        await app.inject({
          method: method as "GET" | "POST",
          url,
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          ...(body === undefined ? {} : { payload: body as string }),
        });
      }
      await tracker.keys.revoke(writer.id);
      await app.inject({
        method: "GET",
        url: "/api/v1/requests",
        headers: { authorization: `Bearer ${writer.key}` },
      });
    } finally {
      await app.close();
    }
    expect(log.lines.length).toBeGreaterThan(0);
    const logged = JSON.stringify(log.lines);
    for (const secret of [admin.key, writer.key, viewer.key]) {
      expect(logged).not.toContain(secret);
      expect(logged).not.toContain(secret.slice(3));
    }
    await tracker.close();
    const raw = new Database(dir.file("s.db"), { readonly: true });
    try {
      const dump = JSON.stringify(raw.prepare("SELECT * FROM api_keys").all());
      expect(dump).toContain(admin.id);
      for (const secret of [admin.key, writer.key, viewer.key]) expect(dump).not.toContain(secret);
    } finally {
      raw.close();
      tracker = await createTracker({ storage: ":memory:", logger: log.logger });
    }
  });

  it(`at most ${MAX_ACTIVE_KEYS} active keys: the next is a coded error, and revoking one makes room`, async () => {
    const made = [];
    for (let i = 0; i < MAX_ACTIVE_KEYS; i++) {
      made.push(await tracker.keys.create({ role: "viewer", tenantId: `t${i % 50}` }));
    }
    await expect(tracker.keys.create({ role: "admin" })).rejects.toMatchObject({
      code: "RT_ERR_VALIDATION",
      field: "key",
    });
    await tracker.keys.revoke((made[0] as { id: string }).id);
    await expect(tracker.keys.create({ role: "admin" })).resolves.toMatchObject({ role: "admin" });
  });
});
