import { pino } from "pino";
import type { RequestRecord } from "../../core/types.js";
import { createTracker } from "../../tracker/create-tracker.js";
import type { Tracker } from "../../tracker/tracker.js";
import { formatTable } from "../table.js";

/** A made-up six-stage content pipeline: its stages with typical durations (ms) and costs. */
const PIPELINE = [
  { stage: "validation", ms: 40 },
  { stage: "rag_retrieval", ms: 900, cost: { service: "vector_search", usd: 0.0004 } },
  { stage: "script_generation", ms: 6_500, cost: { service: "gemini", usd: 0.0125 } },
  { stage: "video_generation", ms: 48_000, cost: { service: "nano_banana", usd: 0.35 } },
  { stage: "video_processing", ms: 7_200, cost: { service: "cdn", usd: 0.002 } },
  { stage: "notification", ms: 300 },
] as const;

const TOPICS = [
  { user: "student-ana", tenant: "school-north", topic: "Photosynthesis", failAt: null },
  {
    user: "student-ben",
    tenant: "school-north",
    topic: "The water cycle",
    failAt: "video_generation",
  },
  { user: "student-cho", tenant: "school-south", topic: "Newton's laws", failAt: null },
  { user: "student-dev", tenant: "school-south", topic: "Plate tectonics", failAt: null },
] as const;

class DemoFailure extends Error {
  override name = "UpstreamTimeout";
  readonly retryable = true;
}

/**
 * Runs a few requests through stages, one failure and its retry, with costs, into `storage`,
 * and prints a table of them. Time is simulated, so the demo finishes at once while the
 * recorded durations look like a real pipeline's.
 */
export async function runDemo(options: { storage: string; out: NodeJS.WritableStream }) {
  let now = Date.now() - 10 * 60_000;
  const clock = () => now;
  const advance = (ms: number) => {
    now += ms;
  };
  const tracker = await createTracker({
    storage: options.storage,
    clock,
    logger: pino({ level: process.env.REQTRACK_LOG_LEVEL ?? "warn" }),
  });

  const ids: string[] = [];
  for (const [i, t] of TOPICS.entries()) {
    const req = await tracker.createRequest({
      userId: t.user,
      tenantId: t.tenant,
      channelId: "web_app",
      kind: "content_generation",
      source: "demo",
      priority: i === 0 ? 0.9 : 0.5,
      initialMessage: `Teach me about ${t.topic}`,
      input: { topic: t.topic, parameters: { gradeLevel: 10, durationMinutes: 5 } },
      tags: ["demo"],
    });
    ids.push(req.id);
    advance(1_500 + i * 700);
    await runPipeline(tracker, req.id, `worker-${(i % 2) + 1}`, advance, t.failAt);
  }

  // The failed request is retried from the stage that failed, keeping the earlier stages.
  const failed = await tracker.getRequest(ids[1] as string);
  const failedStage = failed?.errorStage ?? "-";
  if (failed?.status === "failed") {
    await tracker.logEvent(failed, {
      type: "retry",
      message: `Retrying from ${failed.errorStage}`,
      severity: "info",
    });
    await tracker.retryRequest(failed);
    advance(5_000);
    await runPipeline(tracker, failed.id, "worker-2", advance, null, failed.errorStage);
  }

  const page = await tracker.listRequests({ tag: "demo", limit: ids.length });
  options.out.write(
    `\nreqtrack demo: ${ids.length} content-pipeline requests written to ${options.storage}\n\n`,
  );
  options.out.write(`${formatTable(page.items.reverse().map(row))}\n`);
  const sample = await tracker.getRequest(ids[1] as string);
  options.out.write(
    `\nStages of ${sample?.id} (failed once in ${failedStage}, then retried from there):\n`,
  );
  options.out.write(
    `${formatTable(
      (sample?.stages ?? []).map((s) => ({
        stage: s.name,
        attempt: String(s.attempt),
        status: s.status,
        duration: seconds(s.durationMs),
        error: s.errorMessage ?? "",
      })),
    )}\n`,
  );
  await tracker.close();
}

async function runPipeline(
  tracker: Tracker,
  id: string,
  workerId: string,
  advance: (ms: number) => void,
  failAt: string | null,
  resumeFrom: string | null = null,
) {
  await tracker.startRequest(id, workerId);
  const startIndex = resumeFrom ? PIPELINE.findIndex((p) => p.stage === resumeFrom) : 0;
  for (const step of PIPELINE.slice(Math.max(startIndex, 0))) {
    try {
      await tracker.trackStage(id, step.stage, async () => {
        advance(step.ms);
        if (step.stage === failAt) throw new DemoFailure("Nano Banana API timed out after 45 s");
        if ("cost" in step) {
          await tracker.recordCost(id, {
            service: step.cost.service,
            amountUsd: step.cost.usd,
            stage: step.stage,
          });
        }
        return { ok: true };
      });
    } catch (error) {
      await tracker.failRequest(id, { message: (error as Error).message });
      return;
    }
    await tracker.increment(id, "api_calls");
  }
  await tracker.completeRequest(id, { videoUrl: `https://cdn.example.com/${id}.mp4` });
}

function row(r: RequestRecord): Record<string, string> {
  return {
    id: `${r.id.slice(0, 16)}…`,
    user: r.userId,
    tenant: r.tenantId ?? "",
    lane: r.lane,
    status: r.status,
    attempts: `${r.attempts}/${r.maxAttempts}`,
    queued: seconds(r.queueMs),
    run: seconds(r.durationMs),
    cost: `$${r.costUsd.toFixed(4)}`,
    error: r.errorStage ? `${r.errorStage}: ${r.errorMessage}` : "",
  };
}

function seconds(ms: number | null): string {
  return ms === null ? "-" : `${(ms / 1000).toFixed(1)} s`;
}
