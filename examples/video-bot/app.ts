import {
  createTracker,
  InvalidTransitionError,
  type Logger,
  type RequestRecord,
  type RequestStatus,
  type Tracker,
} from "reqtrack";
import { realWait, type Wait } from "../shared/time.js";
import { FakeGateway, FakeVertex, type Interaction } from "./fakes.js";

export const KIND = "video_generation";
/** The seed's polling limit: past it the request becomes `timeout`. */
export const GENERATION_LIMIT_MS = 5 * 60_000;

/** The seed's status names: reqtrack's `running` is what the bot shows as `generating`. */
export function seedStatus(status: RequestStatus): string {
  return status === "running" ? "generating" : status;
}

export interface VideoBotOptions {
  storage: string;
  clock?: () => number;
  logger?: Logger;
  wait?: Wait;
  /** Tests move time by hand and replay the outbox themselves. */
  replayIntervalMs?: number;
  busyTimeoutMs?: number;
  /** `/veo` calls a user may make per hour (the seed's rate limit). Default 5. */
  perUserHourlyLimit?: number;
}

/**
 * Seed 001 (a Discord `/veo` bot) on reqtrack: `/veo` records a pending request with the
 * Discord context and the generation parameters and answers with its id at once; the
 * generation runs (pending -> generating -> completed | failed | timeout) with the
 * operation name and GCS prefix kept on the request; `/history` and `/stats` answer from the
 * tracker. Tracking never fails the user: while the database is down the bot still answers
 * with an id, and the outbox backfills the store afterwards.
 */
export async function createVideoBot(options: VideoBotOptions) {
  const wait = options.wait ?? realWait;
  const clock = options.clock ?? Date.now;
  const tracker: Tracker = await createTracker({
    storage: options.storage,
    clock,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.replayIntervalMs ? { replayIntervalMs: options.replayIntervalMs } : {}),
    ...(options.busyTimeoutMs ? { busyTimeoutMs: options.busyTimeoutMs } : {}),
    watchdogIntervalMs: 0,
    timeouts: { [KIND]: GENERATION_LIMIT_MS },
    // The seed's timing metric is labelled with the aspect ratio of the request.
    labelFields: ["aspect_ratio"],
  });
  const gateway = new FakeGateway();
  const vertex = new FakeVertex(wait);
  const limit = options.perUserHourlyLimit ?? 5;
  const recent = new Map<string, number[]>();
  const generations = new Set<Promise<void>>();

  /** Runs one generation to its end; every tracking call degrades instead of throwing. */
  async function generate(id: string, prompt: string): Promise<void> {
    const { operationName, gcsPrefix } = await vertex.startOperation(prompt);
    await tracker.startRequest(id, "veo-bot");
    await tracker.annotate(id, {
      metadata: { operation_name: operationName, gcs_prefix: gcsPrefix },
    });
    const started = clock();
    for (;;) {
      const state = await vertex.poll(operationName);
      if (state.done && state.error) return tracker.failRequest(id, state.error);
      if (state.done) return tracker.completeRequest(id, { video_urls: state.videoUrls ?? [] });
      if (clock() - started >= GENERATION_LIMIT_MS) return tracker.timeoutRequest(id);
    }
  }

  async function veo(i: Interaction, reply: (content: string) => void): Promise<void> {
    const now = clock();
    const calls = (recent.get(i.userId) ?? []).filter((t) => t > now - 3_600_000);
    if (calls.length >= limit) {
      reply(`Rate limit: at most ${limit} videos an hour.`);
      return;
    }
    recent.set(i.userId, [...calls, now]);
    const prompt = String(i.options.prompt ?? "");
    const request = await tracker.createRequest({
      kind: KIND,
      userId: i.userId,
      tenantId: i.guildId,
      channelId: i.channelId,
      source: "discord",
      input: {
        prompt,
        parameters: {
          duration: Number(i.options.duration ?? 8),
          aspect_ratio: String(i.options.aspect_ratio ?? "16:9"),
          resolution: String(i.options.resolution ?? "720p"),
          audio: Boolean(i.options.audio ?? true),
        },
      },
    });
    reply(`Generating your video... request \`${request.id}\``);
    const run = generate(request.id, prompt).catch((error: unknown) => {
      tracker.logger.error({ err: error, request_id: request.id }, "generation crashed");
    });
    generations.add(run);
    void run.finally(() => generations.delete(run));
  }

  async function history(i: Interaction, reply: (content: string) => void): Promise<void> {
    const items = await tracker.getUserRequests(i.userId, { limit: 10 });
    reply(
      items.length === 0
        ? "No videos yet."
        : items.map((r) => `${r.id} ${seedStatus(r.status)} ${promptOf(r)}`).join("\n"),
    );
  }

  async function stats(_i: Interaction, reply: (content: string) => void): Promise<void> {
    const o = await tracker.stats.overview({ window: "24h" });
    const s = (ms: number | null) => (ms === null ? "-" : `${(ms / 1000).toFixed(1)}s`);
    reply(
      [
        `Last 24 h: ${o.total} requests (${Object.entries(o.countsByStatus)
          .filter(([, n]) => n > 0)
          .map(([status, n]) => `${n} ${seedStatus(status as RequestStatus)}`)
          .join(", ")})`,
        `Latency P50 ${s(o.latencyMs.p50)}, P95 ${s(o.latencyMs.p95)}, P99 ${s(o.latencyMs.p99)}`,
        `Failure rate ${o.failureRatePct === null ? "-" : `${o.failureRatePct.toFixed(1)}%`}`,
      ].join("\n"),
    );
  }

  gateway.onCommand(async (i, reply) => {
    if (i.command === "veo") return veo(i, reply);
    if (i.command === "history") return history(i, reply);
    return stats(i, reply);
  });

  return {
    tracker,
    gateway,
    vertex,
    /** Waits until every generation started so far has ended. */
    async settle(): Promise<void> {
      while (generations.size > 0) await Promise.all([...generations]);
      await tracker.flush();
    },
    /**
     * The seed's guarded status change: a transition the state machine does not allow is
     * refused with "Invalid status transition", logged at warn, and the row stays as it was.
     */
    async setStatus(id: string, status: "generating" | "completed"): Promise<void> {
      if (status === "generating") await tracker.startRequest(id);
      else await tracker.completeRequest(id);
    },
    isInvalidTransition: (error: unknown) => error instanceof InvalidTransitionError,
    close: () => tracker.close(),
  };
}

function promptOf(r: RequestRecord): string {
  const input = r.input as { prompt?: string } | null;
  return JSON.stringify((input?.prompt ?? "").slice(0, 50));
}

export type VideoBot = Awaited<ReturnType<typeof createVideoBot>>;
