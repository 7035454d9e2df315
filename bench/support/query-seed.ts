import { type IngestOp, MAX_INGEST_OPS, newRequestId, type Tracker } from "../../src/index.js";
import { formatNumber } from "./harness.js";

/**
 * The data set of bench/queries.ts, through the public bulk path: 5,000 users (one with 1 % of all
 * requests: 10,000 of a million), 200 tenants, 5 kinds, 3 stages each, costs on most, 20 %
 * in the last 24 hours and the rest over the 29 days before, written in creation order as
 * live traffic would be. Deterministic (seeded PRNG), so two runs time the same data.
 */
export const SEED_NOW = Date.UTC(2026, 0, 15, 12, 0, 0);

export interface SeedShape {
  requests: number;
  heavyUser: string;
  heavyUserRequests: number;
  busiestTenant: string;
  busiestTenantRequests: number;
  users: number;
  tenants: number;
  lastDay: number;
  stages: number;
  costs: number;
  rollupRows: number;
}

const DAY = 86_400_000;
const USERS = 5_000;
const TENANTS = 200;
const KINDS = ["video_generation", "chat_message", "file_upload", "search", "summarize"];
const SOURCES = ["discord", "web", "api"];
const STAGES = ["script_generation", "video_render", "upload"] as const;
const STAGE_MEAN_MS = [1_500, 20_000, 3_000];
const TOPICS = Array.from({ length: 400 }, (_, i) => `topic ${i}`);
const CALLS_IN_FLIGHT = 4;

type Outcome = "completed" | "failed" | "timeout" | "cancelled" | "pending" | "running";

interface Life {
  createdAt: number;
  user: number;
  kind: string;
  source: string;
  prompt: string;
  queueMs: number;
  stageMs: number[];
  outcome: Outcome;
  openaiMicros: number | null;
  transformerMicros: number | null;
}

/** mulberry32: small, fast, good enough to spread synthetic data. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function plan(i: number, total: number, rng: () => number): Life {
  const exp = (mean: number) => Math.floor(-Math.log(1 - rng()) * mean);
  // In creation order, as traffic arrives: 80 % spread over 29 days, then 20 % in the last 24 h.
  const older = Math.floor(total * 0.8);
  const createdAt =
    i < older
      ? SEED_NOW - 30 * DAY + Math.floor(((i + rng()) / older) * 29 * DAY)
      : SEED_NOW - DAY + Math.floor(((i - older + rng()) / (total - older)) * DAY);
  const topic = TOPICS[Math.floor(rng() ** 2 * TOPICS.length)] as string;
  const base = `Make a short video about ${topic}`;
  // Some prompts arrive with other casing or stray whitespace; top prompts fold them together.
  const prompt = rng() < 0.3 ? `  ${base.toUpperCase()}  ` : base;
  const r = rng();
  const recent = SEED_NOW - createdAt < 120_000;
  const outcome: Outcome = recent
    ? r < 0.5
      ? "pending"
      : "running"
    : r < 0.03
      ? "failed"
      : r < 0.04
        ? "timeout"
        : r < 0.05
          ? "cancelled"
          : "completed";
  return {
    createdAt,
    user: i % 100 === 0 ? 0 : 1 + Math.floor(rng() * (USERS - 1)),
    kind: KINDS[Math.floor(rng() * KINDS.length)] as string,
    source: SOURCES[Math.floor(rng() * SOURCES.length)] as string,
    prompt,
    queueMs: exp(2_000),
    stageMs: STAGE_MEAN_MS.map((mean) => 1 + exp(mean)),
    outcome,
    openaiMicros: rng() < 0.9 ? 100 + exp(20_000) : null,
    transformerMicros: rng() < 0.5 ? 10 + exp(2_000) : null,
  };
}

/** One lifecycle as the remote SDK's wire ops (tracker.ingest), each at its own time. */
function lifecycleOps(p: Life, id: string, opId: () => string): IngestOp[] {
  const ops: IngestOp[] = [
    {
      opId: opId(),
      type: "create",
      at: p.createdAt,
      request: {
        id,
        userId: `user-${p.user}`,
        tenantId: `tenant-${p.user % TENANTS}`,
        channelId: `channel-${p.user % 1_000}`,
        sessionId: `session-${p.user}-${Math.floor(p.createdAt / DAY)}`,
        kind: p.kind,
        source: p.source,
        initialMessage: p.prompt,
        priority: p.user % 10 === 0 ? 0.8 : 0.5,
      },
    },
  ];
  const to = (at: number, status: string, extra: object = {}) =>
    ops.push({
      opId: opId(),
      type: "transition",
      at,
      requestId: id,
      to: status,
      ...extra,
    } as IngestOp);
  const stage = (at: number, name: string, action: string, extra: object = {}) =>
    ops.push({
      opId: opId(),
      type: "stage",
      at,
      requestId: id,
      stage: name,
      action,
      ...extra,
    } as IngestOp);
  const cost = (at: number, service: string, micros: number, stageName?: string) =>
    ops.push({
      opId: opId(),
      type: "cost",
      at,
      requestId: id,
      cost: { service, amountUsd: micros / 1e6, ...(stageName ? { stage: stageName } : {}) },
    });
  if (p.outcome === "pending") return ops;
  let t = p.createdAt + p.queueMs;
  if (p.outcome === "cancelled") {
    to(t, "cancelled", { reason: "user cancelled" });
    return ops;
  }
  to(t, "running", { workerId: "worker-1" });
  for (const [k, name] of STAGES.entries()) {
    stage(t, name, "start");
    if (p.outcome === "running" && k === 1) return ops;
    if (p.outcome === "timeout" && k === 1) {
      to(t + 300_000, "timeout");
      return ops;
    }
    t += p.stageMs[k] as number;
    if (p.outcome === "failed" && k === 1) {
      stage(t, name, "fail", { failure: { message: "renderer crashed", retryable: true } });
      to(t, "failed", { error: "renderer crashed" });
      return ops;
    }
    stage(t, name, "complete");
    if (k === 0 && p.openaiMicros !== null) cost(t, "openai", p.openaiMicros, name);
  }
  if (p.transformerMicros !== null) cost(t, "transformer", p.transformerMicros);
  to(t, "completed", { result: { ok: true } });
  return ops;
}

/**
 * Seeds `total` requests through `tracker.ingest` (the public bulk path: what the remote SDK
 * and `POST /api/v1/ingest` use), whole lifecycles per call of at most 1,000 ops, a few calls
 * in flight, with a progress bar on stderr. Ops carry their own times, so the tracker's clock
 * only has to be past them (ingest refuses ops from the future).
 *
 * With several trackers on one store (PostgreSQL: as several servers would), the calls in
 * flight take turns among them, so that as many transactions run at once; one tracker
 * commits its batches one after the other.
 */
export async function seedRequests(trackers: readonly Tracker[], total: number): Promise<void> {
  const inFlight = Math.max(CALLS_IN_FLIGHT, trackers.length);
  const lifecycles = seedLifecycles(total);
  let next = 0;
  let done = 0;
  const bar = seedProgress(total, () => done);
  const timer = setInterval(bar, process.stderr.isTTY ? 500 : 10_000);
  try {
    await Promise.all(
      Array.from({ length: inFlight }, async (_, call) => {
        const tracker = trackers[call % trackers.length] as Tracker;
        while (next < total) {
          const batch: IngestOp[] = [];
          let count = 0;
          while (next < total) {
            const lifeOps = lifecycles.peek();
            if (batch.length + lifeOps.length > MAX_INGEST_OPS) break;
            batch.push(...lifecycles.take());
            next++;
            count++;
          }
          const results = await tracker.ingest(batch);
          const failed = results.find((r) => !r.ok);
          if (failed) throw new Error(`ingest refused an op: ${JSON.stringify(failed)}`);
          done += count;
        }
      }),
    );
    await Promise.all(trackers.map((tracker) => tracker.flush()));
  } finally {
    clearInterval(timer);
    bar();
    if (process.stderr.isTTY) process.stderr.write("\n");
  }
}

/**
 * The data set's lifecycles in creation order, one request's wire ops at a time: `peek`
 * shows the next one (so a caller can stop before a batch limit), `take` hands it over.
 * Both seeders (ingest here, the store's batch path in direct-seed.ts) read the same ops.
 */
export function seedLifecycles(total: number): { peek: () => IngestOp[]; take: () => IngestOp[] } {
  const rng = prng(20260115);
  let next = 0;
  let ops = 0;
  const opId = () => (++ops).toString(36);
  let ahead: IngestOp[] | null = null;
  const peek = () => {
    if (ahead === null) {
      if (next >= total) throw new Error(`the data set has only ${total} requests`);
      const life = plan(next++, total, rng);
      ahead = lifecycleOps(life, newRequestId(life.createdAt), opId);
    }
    return ahead;
  };
  const take = () => {
    const ops = peek();
    ahead = null;
    return ops;
  };
  return { peek, take };
}

/** A progress bar on stderr for `done()` of `total` requests seeded; call it to redraw. */
export function seedProgress(total: number, done: () => number): () => void {
  const started = performance.now();
  return () => {
    const share = done() / total;
    const rate = done() / ((performance.now() - started) / 1000 || 1);
    const eta = rate > 0 ? (total - done()) / rate : 0;
    const filled = Math.round(share * 30);
    const line =
      `  seeding [${"#".repeat(filled)}${"-".repeat(30 - filled)}] ` +
      `${formatNumber(share * 100, 1)}% ${formatNumber(done())}/${formatNumber(total)} requests, ` +
      `${formatNumber(rate)}/s, ETA ${Math.floor(eta / 60)}m${String(Math.round(eta % 60)).padStart(2, "0")}s`;
    if (process.stderr.isTTY) process.stderr.write(`\r${line}`);
    else process.stderr.write(`${line}\n`);
  };
}
