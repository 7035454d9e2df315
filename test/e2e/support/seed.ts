import type { Tracker } from "../../../src/index.js";

/**
 * The tracker's clock during seeding: `at` moves it, `release` hands it back to the real time.
 * Seeded work gets realistic durations without the test waiting for them.
 */
export class SeedClock {
  private at: number | null = null;
  readonly clock = (): number => this.at ?? Date.now();
  set(ms: number): void {
    this.at = ms;
  }
  advance(ms: number): void {
    this.at = (this.at ?? Date.now()) + ms;
  }
  release(): void {
    this.at = null;
  }
}

/** What `seedDashboard` made, for the tests to look up. */
export interface Seeded {
  /** A request whose `render` stage failed once and passed on the retry, with costs. */
  retried: string;
  /** One request of tenant `beta`, for the cross-tenant checks. */
  beta: string;
  /** A pending request of tenant `alpha`. */
  pendingAlpha: string;
  /** A failed request with a distinctive user. */
  failed: string;
}

const KINDS = ["content_generation", "chat_message", "video_generation"] as const;

/**
 * A small, deterministic store: two tenants, every status, stages with a retry, costs by
 * service and session, spread over the last 50 minutes (so inside every window of the
 * overview) with made-up but realistic durations. The clock is real again afterwards.
 */
export async function seedDashboard(tracker: Tracker, time: SeedClock): Promise<Seeded> {
  const worker = "worker-e2e";
  const start = Date.now() - 50 * 60_000;
  const finish = async (
    id: string,
    outcome: "completed" | "failed" | "cancelled" | "running",
    i: number,
  ) => {
    if (outcome === "cancelled") return tracker.cancelRequest(id, "user left");
    time.advance(200 + (i % 4) * 450);
    await tracker.startRequest(id, worker);
    await tracker.startStage(id, "validation");
    time.advance(40 + i * 3);
    await tracker.completeStage(id, "validation");
    await tracker.startStage(id, "generation");
    time.advance(1500 + (i % 6) * 700);
    await tracker.recordCost(id, {
      service: i % 2 ? "gemini" : "openai",
      amountUsd: 0.01 * (1 + (i % 5)),
      usage: { tokens: 1000 + i },
      stage: "generation",
    });
    if (outcome === "running") return;
    if (outcome === "failed") {
      await tracker.failStage(id, "generation", { message: "upstream 503", retryable: false });
      await tracker.failRequest(id, "upstream 503");
      return;
    }
    await tracker.completeStage(id, "generation");
    await tracker.completeRequest(id, { ok: true });
  };

  const outcomes = ["completed", "completed", "completed", "failed", "running", "cancelled"];
  let pendingAlpha = "";
  let failed = "";
  let beta = "";
  for (let i = 0; i < 24; i++) {
    const tenantId = i % 3 === 2 ? "beta" : "alpha";
    time.set(start + i * 2 * 60_000);
    const r = await tracker.createRequest({
      userId: i === 3 ? "user-unlucky" : `user-${i % 4}`,
      tenantId,
      kind: KINDS[i % 3],
      sessionId: `session-${i % 5}`,
      source: "e2e",
      tags: i % 2 ? ["batch"] : ["interactive"],
      initialMessage: `Explain topic number ${i}`,
    });
    if (i >= 20) {
      if (tenantId === "alpha") pendingAlpha = r.id;
      continue;
    }
    const outcome = outcomes[i % outcomes.length] as "completed";
    await finish(r.id, outcome, i);
    if (outcome === ("failed" as string) && !failed) failed = r.id;
    if (tenantId === "beta") beta = r.id;
  }

  time.set(Date.now() - 3 * 60_000);
  const retried = (
    await tracker.createRequest({
      userId: "user-retry",
      tenantId: "alpha",
      kind: "video_generation",
      initialMessage: "A video about volcanoes",
    })
  ).id;
  time.advance(1200);
  await tracker.startRequest(retried, worker);
  await tracker.startStage(retried, "script");
  time.advance(6500);
  await tracker.recordCost(retried, { service: "gemini", amountUsd: 0.0125, stage: "script" });
  await tracker.completeStage(retried, "script");
  await tracker.startStage(retried, "render");
  time.advance(21_000);
  await tracker.failStage(retried, "render", { message: "GPU lost", retryable: true });
  await tracker.failRequest(retried, { message: "GPU lost", stage: "render" });
  time.advance(5);
  await tracker.retryRequest(retried);
  time.advance(2500);
  await tracker.startRequest(retried, worker);
  await tracker.startStage(retried, "render");
  time.advance(48_000);
  await tracker.recordCost(retried, {
    service: "veo",
    amountUsd: 0.35,
    usage: { seconds: 8 },
    stage: "render",
  });
  await tracker.completeStage(retried, "render");
  await tracker.increment(retried, "frames_rendered", 240);
  time.advance(300);
  await tracker.completeRequest(retried, { url: "https://cdn.example/v.mp4" });
  await tracker.flush();
  time.release();
  return { retried, beta, pendingAlpha, failed };
}
