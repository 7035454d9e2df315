import { z } from "zod";
import {
  BudgetExceededError,
  NotFoundError,
  ReqtrackError,
  ValidationError,
} from "../core/errors.js";
import { newRequestId } from "../core/ids.js";
import {
  type CreateRequestInput,
  json,
  nameSchema,
  parse,
  requestId,
  timestampSchema,
} from "../core/schemas.js";
import { REQUEST_STATUSES, type Request } from "../core/types.js";
import type { ReplayFilter, ReplayJobRow } from "../store/replay-store.js";
import type { Store } from "../store/store.js";
import { type Comparison, compareRequests } from "./replay-compare.js";

export type { CompareSide, Comparison } from "./replay-compare.js";

/** The tag every replay carries, so that lists and reports can pick replays out. */
export const REPLAY_TAG = "replay";
const MAX_TAGS = 50;
const MAX_BULK = 100_000;

const tag = z
  .string()
  .min(1, "must not be empty")
  .max(100, "at most 100 characters")
  .refine((s) => !s.includes("\u0000"), "must not contain NUL (\\u0000) characters");

export const replayOptionsSchema = z.strictObject({
  /** The replay's input instead of the original's. */
  input: json().optional(),
  /** Resume here: the completed results of the stages before it are copied, marked reused. */
  fromStage: nameSchema.optional(),
  /** The replay's tags instead of the original's (it is tagged `replay` either way). */
  tags: z
    .array(tag)
    .max(MAX_TAGS - 1, `at most ${MAX_TAGS - 1} tags`)
    .optional(),
});
export type ReplayOptions = z.input<typeof replayOptionsSchema>;

export const replayFilterSchema = z.strictObject({
  status: z.union([z.enum(REQUEST_STATUSES), z.array(z.enum(REQUEST_STATUSES)).min(1)]).optional(),
  kind: nameSchema.optional(),
  tenantId: tag.optional(),
  from: timestampSchema.optional(),
  to: timestampSchema.optional(),
});
export type ReplayFilterInput = z.input<typeof replayFilterSchema>;

export const bulkOptionsSchema = replayOptionsSchema.omit({ input: true }).extend({
  /** Replays started per second at most (default 10). */
  ratePerSecond: z
    .number({ error: "must be a number" })
    .positive("must be more than 0")
    .max(10_000, "at most 10000")
    .optional(),
  /** At most this many requests (default and maximum 100,000). */
  limit: z.number().int().min(1).max(MAX_BULK, `at most ${MAX_BULK}`).optional(),
});
export type BulkReplayOptions = z.input<typeof bulkOptionsSchema>;

/** A bulk replay: what it picked, how far it got. */
export interface ReplayJob {
  id: string;
  filter: ReplayFilter;
  ratePerSecond: number;
  fromStage: string | null;
  status: ReplayJobRow["status"];
  total: number;
  done: number;
  /** Why it stopped (a spent budget, ...); null while it runs or when it completed. */
  error: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface ReplayHost {
  store: Store;
  clock: () => number;
  /** Reads the request as stored (deleted ones too), after this tracker's queued writes. */
  read: (id: string) => Promise<Request | null>;
  /** Creates a request as `createRequest` does (budget check included), marked a replay. */
  create: (input: CreateRequestInput, replayOf: string) => Promise<Request>;
  /** The pause between bulk replays (a timer by default; tests pass their own). */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Replays: a finished (or any) request run again as a new request linked to it by
 * `replayOf`, optionally resuming from a stage; comparisons; and bulk replays by filter,
 * kept as a job in the store so that a crashed run resumes without replaying anything twice.
 */
export class Replays {
  constructor(private readonly host: ReplayHost) {}

  /**
   * A new request like `id` (input, user, tenant, kind, priority, tags), with `replayOf: id`.
   * The original is not changed. With `fromStage`, the stages before it keep their recorded
   * results in the replay (copied, `reusedFrom: id`), so a worker resumes at `fromStage`.
   *
   * @example
   * const again = await tracker.replay(failed.id, { fromStage: "render" });
   */
  async replay(id: unknown, options: ReplayOptions = {}, replayId?: string): Promise<Request> {
    const originalId = parse(requestId, id, "id");
    const o = parse(replayOptionsSchema, options, "options");
    const original = await this.host.read(originalId);
    if (!original || original.deletedAt !== null) {
      throw new NotFoundError(originalId, {
        field: "id",
        message: original
          ? `Request ${originalId} was deleted; a deleted request cannot be replayed`
          : `Request ${originalId} not found`,
      });
    }
    const reused = o.fromStage === undefined ? [] : stagesBefore(original, o.fromStage);
    const id2 = replayId ?? newRequestId(this.host.clock());
    const tags = [...new Set([...(o.tags ?? original.tags), REPLAY_TAG])].slice(-MAX_TAGS);
    const input: CreateRequestInput = {
      id: id2,
      userId: original.userId,
      priority: original.priority,
      tags,
      maxAttempts: original.maxAttempts,
      timeoutMs: original.timeoutMs,
      ...optional("channelId", original.channelId),
      ...optional("tenantId", original.tenantId),
      ...optional("sessionId", original.sessionId),
      ...optional("kind", original.kind),
      ...optional("source", original.source),
      ...optional("initialMessage", original.initialMessage),
      ...optional("intent", original.intent),
      ...optional("entities", original.entities),
      ...optional("parentId", original.parentId),
      ...optional("estimatedCostUsd", original.estimatedCostUsd),
      ...(o.input !== undefined
        ? { input: o.input }
        : original.input !== null
          ? { input: original.input }
          : {}),
    };
    // The reused stages go in first: a worker that claims the replay must find them.
    if (reused.length > 0) await this.host.store.replays.copyStages(originalId, id2, reused);
    try {
      return await this.host.create(input, originalId);
    } catch (error) {
      if (reused.length > 0) {
        await this.host.store.replays.removeOrphanStages(id2).catch(() => undefined);
      }
      throw error;
    }
  }

  /** The replays of a request, oldest first. */
  async of(id: string): Promise<{ id: string; status: Request["status"]; createdAt: Date }[]> {
    const rows = await this.host.store.replays.listReplays(parse(requestId, id, "id"));
    return rows.map((r) => ({ id: r.id, status: r.status, createdAt: new Date(r.createdAt) }));
  }

  /** Status, duration, cost per service, result and stages of two requests, side by side. */
  async compare(leftId: unknown, rightId: unknown): Promise<Comparison> {
    const [left, right] = await Promise.all([
      this.visible(parse(requestId, leftId, "id"), "id"),
      this.visible(parse(requestId, rightId, "otherId"), "otherId"),
    ]);
    return compareRequests(left, right);
  }

  /**
   * Picks the requests matching `filter` (oldest first) and stores them as a job, each with
   * the id its replay will get. `run` then replays them.
   */
  async start(filter: ReplayFilterInput, options: BulkReplayOptions = {}): Promise<ReplayJob> {
    const f = parse(replayFilterSchema, filter, "filter");
    const o = parse(bulkOptionsSchema, options, "options");
    const resolved: ReplayFilter = {
      ...(f.status !== undefined
        ? { status: Array.isArray(f.status) ? f.status : [f.status] }
        : {}),
      ...(f.kind !== undefined ? { kind: f.kind } : {}),
      ...(f.tenantId !== undefined ? { tenantId: f.tenantId } : {}),
      ...(f.from !== undefined ? { from: new Date(f.from).getTime() } : {}),
      ...(f.to !== undefined ? { to: new Date(f.to).getTime() } : {}),
    };
    const now = this.host.clock();
    const ids = await this.host.store.replays.matchingIds(resolved, o.limit ?? MAX_BULK);
    const job: ReplayJobRow = {
      id: `rjob_${newRequestId(now).slice(4)}`,
      filter: resolved,
      options: {
        ratePerSecond: o.ratePerSecond ?? 10,
        ...(o.fromStage !== undefined ? { fromStage: o.fromStage } : {}),
        ...(o.tags !== undefined ? { tags: o.tags } : {}),
      },
      status: "running",
      total: ids.length,
      done: 0,
      error: null,
      createdAt: now,
      updatedAt: now,
    };
    const items = ids.map((requestId, seq) => ({
      seq,
      requestId,
      replayId: newRequestId(now),
    }));
    await this.host.store.replays.createJob(job, items);
    return toJob(job);
  }

  /**
   * Replays what is left of job `id`, at most `ratePerSecond` a second, calling `onProgress`
   * after each. Safe to call again after a crash: an item is marked done after its replay is
   * created under the id chosen at `start`, so one replayed but not marked is found by that
   * id and not replayed again. A spent budget stops the job (`status: "stopped"`); calling
   * `run` later goes on. A request that can no longer be replayed (deleted since, or without
   * the stage) is skipped.
   */
  async run(
    id: string,
    options: { onProgress?: (job: ReplayJob) => void; signal?: AbortSignal } = {},
  ): Promise<ReplayJob> {
    const store = this.host.store.replays;
    const job = await store.getJob(id);
    if (!job)
      throw new NotFoundError(id, { field: "jobId", message: `Replay job ${id} not found` });
    if (job.status === "completed") return toJob(job);
    if (job.status !== "running") await store.setJobStatus(id, "running", null, this.host.clock());
    const sleep = this.host.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    const pause = 1000 / job.options.ratePerSecond;
    let done = job.done;
    const skipped: string[] = [];
    for (;;) {
      const items = await store.pendingItems(id, 100);
      if (items.length === 0) break;
      for (const item of items) {
        if (options.signal?.aborted) return toJob((await store.getJob(id)) ?? job);
        const exists = (await this.host.store.getScope(item.replayId)) !== null;
        if (!exists) {
          try {
            await this.replay(
              item.requestId,
              {
                ...(job.options.fromStage !== undefined
                  ? { fromStage: job.options.fromStage }
                  : {}),
                ...(job.options.tags !== undefined ? { tags: job.options.tags } : {}),
              },
              item.replayId,
            );
          } catch (error) {
            if (error instanceof BudgetExceededError) {
              await store.setJobStatus(id, "stopped", error.message, this.host.clock());
              return toJob((await store.getJob(id)) ?? job);
            }
            if (!(error instanceof ReqtrackError) || error.status >= 500) throw error;
            skipped.push(`${item.requestId}: ${error.message}`);
          }
        }
        await store.itemDone(id, item.seq, this.host.clock());
        done++;
        options.onProgress?.(toJob({ ...job, done, updatedAt: this.host.clock() }));
        await sleep(pause);
      }
    }
    const error =
      skipped.length > 0 ? `skipped ${skipped.length}: ${skipped.slice(0, 5).join("; ")}` : null;
    await store.setJobStatus(id, "completed", error, this.host.clock());
    return toJob((await store.getJob(id)) ?? job);
  }

  /** `start` then `run`. */
  async bulk(
    filter: ReplayFilterInput,
    options: BulkReplayOptions & { onProgress?: (job: ReplayJob) => void } = {},
  ): Promise<ReplayJob> {
    const { onProgress, ...rest } = options;
    const job = await this.start(filter, rest);
    return this.run(job.id, onProgress ? { onProgress } : {});
  }

  async job(id: string): Promise<ReplayJob | null> {
    const job = await this.host.store.replays.getJob(id);
    return job ? toJob(job) : null;
  }

  async jobs(): Promise<ReplayJob[]> {
    return (await this.host.store.replays.listJobs()).map(toJob);
  }

  private async visible(id: string, field: string): Promise<Request> {
    const found = await this.host.read(id);
    if (!found || found.deletedAt !== null) throw new NotFoundError(id, { field });
    return found;
  }
}

/** The stages before `fromStage` in the order they first started; each must have completed. */
function stagesBefore(original: Request, fromStage: string): string[] {
  const firstStart = new Map<string, number>();
  const completed = new Set<string>();
  for (const s of original.stages) {
    const at = s.startedAt.getTime();
    if (!firstStart.has(s.name) || at < (firstStart.get(s.name) as number)) {
      firstStart.set(s.name, at);
    }
    if (s.status === "completed") completed.add(s.name);
  }
  const from = firstStart.get(fromStage);
  if (from === undefined) {
    const ran = [...firstStart.keys()];
    throw new ValidationError(
      "fromStage",
      `request ${original.id} never ran stage ${fromStage} (${ran.length > 0 ? `it ran ${ran.join(", ")}` : "it ran no stage"})`,
    );
  }
  const before = [...firstStart.entries()]
    .filter(([, at]) => at < from)
    .sort((a, b) => a[1] - b[1])
    .map(([name]) => name);
  const unfinished = before.filter((name) => !completed.has(name));
  if (unfinished.length > 0) {
    throw new ValidationError(
      "fromStage",
      `stage(s) ${unfinished.join(", ")} before ${fromStage} never completed in ${original.id}; replay from the first of them`,
    );
  }
  return before;
}

function toJob(row: ReplayJobRow): ReplayJob {
  return {
    id: row.id,
    filter: row.filter,
    ratePerSecond: row.options.ratePerSecond,
    fromStage: row.options.fromStage ?? null,
    status: row.status,
    total: row.total,
    done: row.done,
    error: row.error,
    createdAt: new Date(row.createdAt),
    updatedAt: new Date(row.updatedAt),
  };
}

function optional<K extends string, V>(key: K, value: V | null): { [P in K]?: V } {
  return (value === null ? {} : { [key]: value }) as { [P in K]?: V };
}
