import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { RequestRecord } from "../../core/types.js";
import type { Tracker } from "../../tracker/tracker.js";
import { tenantFilter } from "../auth.js";
import { errors } from "../openapi.js";

/** Leases that end within this many milliseconds count as "about to expire". */
export const LEASE_SOON_MS = 30_000;
/** A running request without a lease (so without heartbeats) unchanged this long is stale. */
export const STALE_RUNNING_MS = 60_000;

const brief = z.object({
  id: z.string(),
  tenantId: z.string().nullable(),
  kind: z.string().nullable(),
  workerId: z.string().nullable(),
  leaseExpiresAt: z.string().nullable(),
});

/** The answer of GET /api/v1/queue/status. */
export const queueStatusSchema = z.object({
  at: z.string(),
  pending: z.number().int(),
  oldestPending: z.object({ id: z.string(), createdAt: z.string(), ageMs: z.number() }).nullable(),
  running: z.number().int(),
  runningByWorker: z.array(z.object({ workerId: z.string(), running: z.number().int() })),
  leasesExpiringSoon: z.array(brief),
  expiredLeases: z.array(brief),
  /**
   * Running requests nothing vouches for: no lease (started without a claim, so no
   * heartbeats) and unchanged for STALE_RUNNING_MS, or running past their own timeout.
   */
  staleRunning: z.array(
    brief.extend({
      startedAt: z.string().nullable(),
      updatedAt: z.string(),
      reason: z.enum(["no_heartbeat", "past_timeout"]),
    }),
  ),
});

const iso = (value: Date | string | null) =>
  value === null ? null : new Date(value).toISOString();

function briefOf(r: RequestRecord) {
  return {
    id: r.id,
    tenantId: r.tenantId,
    kind: r.kind,
    workerId: r.workerId,
    leaseExpiresAt: iso(r.leaseExpiresAt),
  };
}

/**
 * GET /api/v1/queue/status: what an operator watches besides depth: the oldest pending
 * request, who runs what, and leases about to expire or already expired. Built on the
 * tracker's request lists, so it answers the same on every store and is confined to the
 * key's tenant like every list.
 */
export const queueStatusRoutes: FastifyPluginAsyncZod<{
  tracker: Tracker;
  clock?: () => number;
}> = async (app, { tracker, clock = Date.now }) => {
  app.get(
    "/queue/status",
    {
      config: { role: "viewer" },
      schema: {
        querystring: z.strictObject({ tenantId: z.string().min(1).max(256).optional() }),
        operationId: "queueStatus",
        response: { 200: queueStatusSchema, ...errors(400) },
        tags: ["queue"],
      },
    },
    async (request) => {
      const tenantId = tenantFilter(request.principal, request.query.tenantId);
      const scope = tenantId === undefined ? {} : { tenantId };
      const now = clock();
      const pending = await tracker.listRequests({ ...scope, status: "pending", limit: 0 });
      // Lists are newest first: the oldest pending request is the last row of the list.
      const oldest =
        pending.total > 0
          ? (
              await tracker.listRequests({
                ...scope,
                status: "pending",
                limit: 1,
                offset: pending.total - 1,
              })
            ).items[0]
          : undefined;
      const running = await tracker.listRequests({ ...scope, status: "running", limit: 1000 });
      const byWorker = new Map<string, number>();
      for (const r of running.items) {
        const worker = r.workerId ?? "(none)";
        byWorker.set(worker, (byWorker.get(worker) ?? 0) + 1);
      }
      const leaseOf = (r: RequestRecord) =>
        r.leaseExpiresAt === null ? null : new Date(r.leaseExpiresAt).getTime();
      const staleRunning = running.items.flatMap((r) => {
        const started = r.startedAt === null ? null : new Date(r.startedAt).getTime();
        const reason =
          started !== null && now - started > r.timeoutMs
            ? ("past_timeout" as const)
            : r.leaseExpiresAt === null && now - new Date(r.updatedAt).getTime() > STALE_RUNNING_MS
              ? ("no_heartbeat" as const)
              : null;
        if (reason === null) return [];
        return [
          {
            ...briefOf(r),
            startedAt: iso(r.startedAt),
            updatedAt: iso(r.updatedAt) as string,
            reason,
          },
        ];
      });
      return {
        at: new Date(now).toISOString(),
        pending: pending.total,
        oldestPending: oldest
          ? {
              id: oldest.id,
              createdAt: new Date(oldest.createdAt).toISOString(),
              ageMs: Math.max(0, now - new Date(oldest.createdAt).getTime()),
            }
          : null,
        running: running.total,
        runningByWorker: [...byWorker]
          .map(([workerId, count]) => ({ workerId, running: count }))
          .sort((a, b) => b.running - a.running || a.workerId.localeCompare(b.workerId)),
        leasesExpiringSoon: running.items
          .filter((r) => {
            const lease = leaseOf(r);
            return lease !== null && lease >= now && lease < now + LEASE_SOON_MS;
          })
          .map(briefOf),
        expiredLeases: running.items
          .filter((r) => {
            const lease = leaseOf(r);
            return lease !== null && lease < now;
          })
          .map(briefOf),
        staleRunning,
      };
    },
  );
};
