import { setTimeout as sleep } from "node:timers/promises";
import type { Tracker } from "../../tracker/tracker.js";

const TENANTS = ["school-north", "school-south", "discord-guild-42"];
const KINDS = [
  {
    kind: "demo_content_generation",
    stages: [
      "validation",
      "rag_retrieval",
      "script_generation",
      "video_generation",
      "notification",
    ],
  },
  { kind: "demo_chat_message", stages: ["rag_retrieval", "llm_completion"] },
  { kind: "demo_video_generation", stages: ["prompt_check", "video_generation", "upload"] },
];
/** The demo worker claims only these, so requests a user creates are left for their own workers. */
export const DEMO_KINDS = KINDS.map((k) => k.kind);
const PROMPTS = [
  "Photosynthesis in 5 minutes",
  "A fjord at sunrise",
  "Explain Newton's laws",
  "Summarize this PDF",
];
const SERVICES: Record<string, string> = {
  rag_retrieval: "vector_search",
  script_generation: "gemini",
  llm_completion: "openai",
  video_generation: "veo",
  upload: "cdn",
};

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;

/**
 * `serve --demo`: a steady trickle of made-up requests across three tenants, run by a local
 * worker through stages with costs, with some failures (retried), and some runs that hang
 * past their time limit so the watchdog times them out. Real time, slowed down to be watched.
 * Its kinds are its own (`demo_*`): the worker never claims a request a user created.
 */
export function startDemoTrickle(tracker: Tracker): { stop(): Promise<void> } {
  const worker = tracker.work(
    { kinds: DEMO_KINDS, concurrency: 4, pollMs: 200, leaseMs: 15_000, graceMs: 1000 },
    async (req, { signal }) => {
      const plan = KINDS.find((k) => k.kind === req.kind) ?? KINDS[0]!;
      const done = new Set(req.stages.filter((s) => s.status === "completed").map((s) => s.name));
      for (const stage of plan.stages) {
        if (done.has(stage)) continue;
        await tracker.trackStage(req, stage, async () => {
          const hang = stage === "video_generation" && Math.random() < 0.05;
          await sleep(hang ? 60_000 : 200 + Math.random() * 1500, undefined, { signal });
          if (Math.random() < 0.08)
            throw Object.assign(new Error(`${SERVICES[stage] ?? stage} returned 503`), {
              retryable: true,
            });
          const service = SERVICES[stage];
          if (service)
            await tracker.recordCost(req, {
              service,
              amountUsd: Math.round(Math.random() * 50_000) / 1_000_000,
              stage,
            });
          await tracker.logEvent(req, { type: "api_call", message: `${stage} done`, stage });
        });
      }
      return { ok: true };
    },
  );
  let running = true;
  const feed = (async () => {
    while (running) {
      const plan = pick(KINDS);
      await tracker
        .createRequest({
          userId: `user-${Math.floor(Math.random() * 20)}`,
          tenantId: pick(TENANTS),
          kind: plan.kind,
          source: "demo",
          priority: pick([0.9, 0.5, 0.1]),
          initialMessage: pick(PROMPTS),
          timeoutMs: 20_000,
          tags: ["demo"],
        })
        .catch(() => undefined);
      // Failed requests get one more go, resuming at the stage that failed.
      for (const failed of (await tracker.listRequests({ status: "failed", tag: "demo", limit: 5 }))
        .items) {
        if (failed.attempts < failed.maxAttempts)
          await tracker.retryRequest(failed).catch(() => undefined);
      }
      await sleep(1200);
    }
  })();
  return {
    async stop() {
      running = false;
      await feed;
      await worker.stop();
    },
  };
}
