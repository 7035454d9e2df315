import { describe, expect, it, vi } from "vitest";
import { DEMO_KINDS, startDemoTrickle } from "../../src/cli/commands/demo-trickle.js";
import { createTracker } from "../../src/index.js";
import { captureLogger, tempDir } from "../support/helpers.js";

describe("serve --demo", () => {
  it("works only its own kinds: a user's requests stay pending while demo requests run", async () => {
    const dir = tempDir();
    const tracker = await createTracker({
      storage: dir.file("demo.db"),
      logger: captureLogger("error").logger,
    });
    const demo = startDemoTrickle(tracker);
    try {
      // Created before any demo request and in the top lane: claims go by lane then age, so
      // a worker that took every kind would take these first.
      const mine = await Promise.all(
        ["video_generation", "content_generation", undefined].map((kind) =>
          tracker.createRequest({ userId: "me", priority: 1, ...(kind ? { kind } : {}) }),
        ),
      );
      await vi.waitFor(
        async () => {
          const page = await tracker.listRequests({ tag: "demo", status: "completed", limit: 1 });
          expect(page.total).toBeGreaterThan(0);
        },
        { timeout: 30_000, interval: 200 },
      );
      for (const req of mine) {
        const now = await tracker.getRequest(req.id);
        expect(now).toMatchObject({ status: "pending", attempts: 0 });
      }
      const demoKinds = new Set(
        (await tracker.listRequests({ tag: "demo", limit: 100 })).items.map((r) => r.kind),
      );
      for (const kind of demoKinds) expect(DEMO_KINDS).toContain(kind);
    } finally {
      await demo.stop();
      await tracker.close();
      dir.cleanup();
    }
  }, 60_000);
});
