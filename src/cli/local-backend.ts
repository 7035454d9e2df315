import type { Tracker } from "../tracker/tracker.js";
import type { Backend, Json, Query } from "./backend.js";

const asJson = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
const toNumber = (value: string | undefined) => (value === undefined ? undefined : Number(value));
const toTime = (value: string | undefined) =>
  value === undefined ? undefined : /^\d+$/.test(value) ? Number(value) : Date.parse(value);

/** A local store through the library, answering in the HTTP API's JSON shapes. */
export class LocalBackend implements Backend {
  constructor(private readonly tracker: Tracker) {}

  async list(q: Query) {
    const statuses = q.status?.split(",");
    const page = await this.tracker.listRequests(
      defined({
        status: statuses && statuses.length === 1 ? statuses[0] : statuses,
        userId: q.userId,
        tenantId: q.tenantId,
        channelId: q.channelId,
        sessionId: q.sessionId,
        kind: q.kind,
        parentId: q.parentId,
        tag: q.tag,
        from: toTime(q.from),
        to: toTime(q.to),
        limit: toNumber(q.limit),
        offset: toNumber(q.offset),
        cursor: q.cursor,
      }) as Parameters<Tracker["listRequests"]>[0],
    );
    return asJson(page) as unknown as { items: Json[]; total: number; nextCursor: string | null };
  }

  async show(id: string) {
    return asJson(await this.tracker.getRequest(id)) as Json | null;
  }

  async events(id: string) {
    return asJson(await this.tracker.getEvents(id)) as unknown as Json[];
  }

  async overview(q: Query) {
    return asJson(
      await this.tracker.stats.overview(defined({ window: q.window, tenantId: q.tenantId })),
    ) as unknown as Json;
  }

  async costs(q: Query) {
    return asJson(
      await this.tracker.costs.report(
        defined({
          tenantId: q.tenantId,
          sessionId: q.sessionId,
          from: toTime(q.from),
          to: toTime(q.to),
        }),
      ),
    ) as unknown as Json;
  }

  async ingest(ops: readonly Json[]) {
    return this.tracker.ingest(ops);
  }

  async close() {
    await this.tracker.close();
  }
}

function defined<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
