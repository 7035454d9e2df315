import fc from "fast-check";
import type { Tracker } from "../../src/index.js";

/**
 * Random workloads for the analytics property tests, and the plain model of what they leave
 * behind. The model is computed from the plan alone (sorting, counting, summing), never from
 * the store or reqtrack's own aggregation code, so that it can catch both.
 */
export const NOW = Date.UTC(2026, 0, 15, 12, 34, 56);
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

export const TENANTS = ["guild-1", "guild-2", "guild-3"];
export const KINDS = ["video_generation", "chat_message"];
export const SOURCES = ["discord", "web"];
export const USERS = ["u1", "u2", "u3", "u4"];
export const CHANNELS = ["c1", "c2"];
export const SESSIONS = ["s1", "s2", "s3", "s4", "s5"];
export const SERVICES = ["openai", "transformer", "native"];
export const STAGE_NAMES = ["rag", "script", "render"];
const PROMPTS = ["Make a video", "  make   a VIDEO ", "make a video\t", "Cats!", "CATS!", "dogs"];

type Outcome =
  | "pending"
  | "cancelled-pending"
  | "timeout-pending"
  | "running"
  | "completed"
  | "failed"
  | "timeout"
  | "cancelled";

export interface Plan {
  ageMs: number;
  userId: string;
  tenantId: string | null;
  kind: string | null;
  source: string | null;
  channelId: string | null;
  sessionId: string | null;
  priority: number;
  prompt: string | null;
  promptInInput: boolean;
  outcome: Outcome;
  /** A failed first run, then a retry (only for outcomes that start). */
  retried: boolean;
  queueMs: number;
  firstRunMs: number;
  stages: { name: string; ms: number; fail: boolean }[];
  /** A stage still running when the request ends. */
  interrupted: string | null;
  tailMs: number;
  costs: { service: string; micros: number }[];
  deleted: boolean;
}

const maybe = <T>(values: T[]) => fc.option(fc.constantFrom(...values), { nil: null });
const ms = (max: number) => fc.oneof(fc.constant(0), fc.integer({ min: 1, max }));

export const planArb: fc.Arbitrary<Plan> = fc.record({
  // Mostly the last two days (hour and minute buckets), some up to 40 days back (day buckets).
  ageMs: fc.oneof(fc.integer({ min: 0, max: 2 * DAY }), fc.integer({ min: 0, max: 40 * DAY })),
  userId: fc.constantFrom(...USERS),
  tenantId: maybe(TENANTS),
  kind: maybe(KINDS),
  source: maybe(SOURCES),
  channelId: maybe(CHANNELS),
  sessionId: maybe(SESSIONS),
  priority: fc.constantFrom(0.1, 0.5, 0.9),
  prompt: maybe(PROMPTS),
  promptInInput: fc.boolean(),
  outcome: fc.constantFrom<Outcome>(
    "pending",
    "cancelled-pending",
    "timeout-pending",
    "running",
    "completed",
    "completed",
    "completed",
    "failed",
    "timeout",
    "cancelled",
  ),
  retried: fc.boolean(),
  queueMs: ms(120_000),
  firstRunMs: ms(60_000),
  stages: fc.array(
    fc.record({ name: fc.constantFrom(...STAGE_NAMES), ms: ms(90_000), fail: fc.boolean() }),
    { maxLength: 3 },
  ),
  interrupted: maybe(STAGE_NAMES),
  tailMs: ms(30_000),
  costs: fc.array(
    fc.record({ service: fc.constantFrom(...SERVICES), micros: fc.integer({ min: 0, max: 5e6 }) }),
    { maxLength: 3 },
  ),
  deleted: fc.boolean(),
});

/** What a plan leaves in the requests table, worked out by hand. */
export interface Expected {
  plan: Plan;
  createdAt: number;
  status: string;
  queueMs: number | null;
  durationMs: number | null;
  costMicros: number;
  lane: "high" | "normal" | "low";
  /** Finished stage runs (completed or failed). */
  stages: { name: string; status: "completed" | "failed"; ms: number }[];
  /** Costs actually recorded (only runs that started record any). */
  costs: { service: string; micros: number }[];
}

/** Runs `plan` through the tracker's public API, moving `time` by hand. */
export async function apply(
  tracker: Tracker,
  time: { set: (ms: number) => void },
  plan: Plan,
  n: number,
): Promise<Expected> {
  const createdAt = NOW - plan.ageMs;
  time.set(createdAt);
  const req = await tracker.createRequest({
    userId: plan.userId,
    ...(plan.tenantId ? { tenantId: plan.tenantId } : {}),
    ...(plan.kind ? { kind: plan.kind } : {}),
    ...(plan.source ? { source: plan.source } : {}),
    ...(plan.channelId ? { channelId: plan.channelId } : {}),
    ...(plan.sessionId ? { sessionId: plan.sessionId } : {}),
    ...(plan.prompt !== null && !plan.promptInInput ? { initialMessage: plan.prompt } : {}),
    ...(plan.prompt !== null && plan.promptInInput ? { input: { prompt: plan.prompt } } : {}),
    priority: plan.priority,
    id: `req_${n}`,
    maxAttempts: 5,
  });
  const lane = plan.priority >= 0.7 ? "high" : plan.priority >= 0.3 ? "normal" : "low";
  const out: Expected = {
    plan,
    createdAt,
    status: "pending",
    queueMs: null,
    durationMs: null,
    costMicros: 0,
    lane,
    stages: [],
    costs: [],
  };
  if (plan.outcome === "cancelled-pending" || plan.outcome === "timeout-pending") {
    time.set(createdAt + plan.queueMs);
    if (plan.outcome === "cancelled-pending") await tracker.cancelRequest(req.id);
    else await tracker.timeoutRequest(req.id);
    out.status = plan.outcome === "cancelled-pending" ? "cancelled" : "timeout";
  } else if (plan.outcome !== "pending") {
    let t = createdAt + plan.queueMs;
    if (plan.retried) {
      time.set(t);
      await tracker.startRequest(req.id);
      t += plan.firstRunMs;
      time.set(t);
      await tracker.failRequest(req.id, "first run failed");
      await tracker.retryRequest(req.id);
      t += plan.queueMs;
    }
    time.set(t);
    await tracker.startRequest(req.id);
    const started = t;
    out.status = "running";
    out.queueMs = started - createdAt;
    for (const stage of plan.stages) {
      time.set(t);
      await tracker.startStage(req.id, stage.name);
      t += stage.ms;
      time.set(t);
      if (stage.fail) await tracker.failStage(req.id, stage.name, "stage failed");
      else await tracker.completeStage(req.id, stage.name);
      out.stages.push({
        name: stage.name,
        status: stage.fail ? "failed" : "completed",
        ms: stage.ms,
      });
    }
    for (const cost of plan.costs) {
      await tracker.recordCost(req.id, { service: cost.service, amountUsd: cost.micros / 1e6 });
      out.costMicros += cost.micros;
      out.costs.push(cost);
    }
    const interrupted = plan.interrupted;
    const interruptedAt = t;
    if (interrupted !== null) await tracker.startStage(req.id, interrupted);
    t += plan.tailMs;
    time.set(t);
    const end = {
      completed: () => tracker.completeRequest(req.id),
      failed: () => tracker.failRequest(req.id, "boom"),
      timeout: () => tracker.timeoutRequest(req.id),
      cancelled: () => tracker.cancelRequest(req.id),
    } as const;
    if (plan.outcome !== "running") {
      await end[plan.outcome]();
      out.status = plan.outcome;
      out.durationMs = t - started;
      // Ending a run any other way than completing it fails the stage still running.
      if (interrupted !== null && plan.outcome !== "completed") {
        out.stages.push({ name: interrupted, status: "failed", ms: t - interruptedAt });
      }
    }
  }
  if (plan.deleted) await tracker.deleteRequest(req.id);
  return out;
}

/** The exact nearest-rank percentile: the value at rank ceil(p / 100 * n), from 1. */
export function nearestRank(values: readonly number[], percent: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((percent * sorted.length) / 100)) - 1] ?? null;
}

export function countsByStatus(requests: readonly Expected[]): Record<string, number> {
  const counts: Record<string, number> = {
    pending: 0,
    running: 0,
    completed: 0,
    failed: 0,
    timeout: 0,
    cancelled: 0,
  };
  for (const r of requests) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}

export function failureRate(requests: readonly Expected[]): number | null {
  const ended = requests.filter((r) =>
    ["completed", "failed", "timeout", "cancelled"].includes(r.status),
  );
  if (ended.length === 0) return null;
  return (
    (ended.filter((r) => r.status === "failed" || r.status === "timeout").length / ended.length) *
    100
  );
}

export const completedDurations = (requests: readonly Expected[]) =>
  requests.filter((r) => r.status === "completed").map((r) => r.durationMs as number);

export const queueTimes = (requests: readonly Expected[]) =>
  requests.filter((r) => r.queueMs !== null).map((r) => r.queueMs as number);

export const costOf = (requests: readonly Expected[]) =>
  requests.reduce((sum, r) => sum + r.costMicros, 0);

export function avgCompleted(requests: readonly Expected[]): number | null {
  const durations = completedDurations(requests);
  return durations.length === 0 ? null : durations.reduce((a, b) => a + b, 0) / durations.length;
}

/** The prompt as seed 001 counts it: trimmed, whitespace collapsed, case-folded. */
export function plainNormalize(prompt: string): string {
  return prompt.split(/\s+/u).filter(Boolean).join(" ").toUpperCase().toLowerCase();
}
