import { createHash } from "node:crypto";
import type * as Pg from "pg";
import type { ChangeEvent, OpResult } from "../../core/ops.js";
import type { RemoteGap } from "../store.js";

/**
 * NOTIFY payloads must stay under 8000 bytes; a little is kept back for the envelope
 * (`{"origin":"…","changes":[…]}`) so that a chunk never reaches the server's limit.
 */
const MAX_PAYLOAD_BYTES = 7000;
const ENVELOPE_BYTES = 100;
const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 10_000;

/**
 * The NOTIFY channel of one schema, so that stores on different schemas of one database
 * (tests, tenants) do not hear each other. A channel name is an identifier (at most 63
 * bytes), so the schema is hashed into it.
 */
export function changeChannel(schema: string | undefined): string {
  if (schema === undefined) return "reqtrack_changes";
  return `reqtrack_changes_${createHash("sha256").update(schema).digest("hex").slice(0, 24)}`;
}

/**
 * The NOTIFY payloads that publish the changes of `results`: chunks of at most ~7 KB, never
 * one per op. The store sends them with `pg_notify` inside the batch transaction, so they
 * are delivered only on commit. A change too big for a notification on its own is sent
 * without its `data`.
 */
export function changePayloads(origin: string, results: readonly OpResult[]): string[] {
  const payloads: string[] = [];
  let chunk: string[] = [];
  let bytes = 0;
  const flush = () => {
    if (chunk.length === 0) return;
    payloads.push(`{"origin":${JSON.stringify(origin)},"changes":[${chunk.join(",")}]}`);
    chunk = [];
    bytes = 0;
  };
  for (const result of results) {
    if (!result.ok || !result.changes) continue;
    for (const change of result.changes) {
      let text = JSON.stringify(change);
      let size = Buffer.byteLength(text);
      if (size + ENVELOPE_BYTES > MAX_PAYLOAD_BYTES) {
        text = JSON.stringify({ ...change, data: { truncated: true } });
        size = Buffer.byteLength(text);
        if (size + ENVELOPE_BYTES > MAX_PAYLOAD_BYTES) continue; // ids this long: not sent
      }
      if (bytes + size + 1 + ENVELOPE_BYTES > MAX_PAYLOAD_BYTES) flush();
      chunk.push(text);
      bytes += size + 1;
    }
  }
  flush();
  return payloads;
}

/** The changes of a notification sent by another store, or null (ours, or not one of ours). */
export function parseRemoteChanges(
  payload: string | undefined,
  self: string,
): ChangeEvent[] | null {
  if (payload === undefined) return null;
  // Every server hears its own notifications too: those are dropped before being parsed.
  if (payload.startsWith(`{"origin":${JSON.stringify(self)},`)) return null;
  try {
    const value = JSON.parse(payload) as { origin?: unknown; changes?: unknown };
    if (typeof value.origin !== "string" || value.origin === self) return null;
    if (!Array.isArray(value.changes)) return null;
    const changes = (value.changes as unknown[]).filter(
      (change): change is ChangeEvent =>
        typeof change === "object" &&
        change !== null &&
        typeof (change as ChangeEvent).type === "string" &&
        typeof (change as ChangeEvent).requestId === "string",
    );
    return changes.length > 0 ? changes : null;
  } catch {
    return null;
  }
}

export interface ChangeListenerOptions {
  pg: typeof Pg;
  config: Pg.ClientConfig;
  channel: string;
  /** This store's origin: its own notifications are not delivered back to it. */
  origin: string;
  /** Epoch-ms clock for the times of a gap. */
  now: () => number;
  deliver: (changes: ChangeEvent[]) => void;
  /** Called once listening resumes after it stopped; see `RemoteGap`. */
  onGap: (gap: RemoteGap) => void;
}

/**
 * One dedicated connection (outside the pool) that LISTENs on the change channel and hands
 * remote changes to `deliver`. When it drops, it reconnects with backoff until `close()`.
 * PostgreSQL does not keep notifications for a session that is gone, so once listening
 * again it reports the gap (`onGap`): what was committed meanwhile must be read, not heard.
 */
export class ChangeListener {
  private client: Pg.Client | null = null;
  private closed = false;
  private backoffMs = MIN_BACKOFF_MS;
  private timer: NodeJS.Timeout | null = null;
  /** Since when this listener has not been listening; null while it listens. */
  private deafSince: number | null = null;

  constructor(private readonly options: ChangeListenerOptions) {}

  /** Connects and listens; on failure, keeps retrying in the background. */
  async start(): Promise<void> {
    if (this.closed) return;
    const { pg, channel } = this.options;
    const client = new pg.Client(this.options.config);
    let dropped = false;
    const drop = () => {
      if (dropped) return;
      dropped = true;
      if (this.client === client) this.client = null;
      this.deafSince ??= this.options.now();
      client.end().catch(() => {});
      this.scheduleReconnect();
    };
    client.on("error", drop);
    client.on("end", drop);
    client.on("notification", (message) => {
      if (message.channel !== channel) return;
      const changes = parseRemoteChanges(message.payload, this.options.origin);
      if (changes) this.options.deliver(changes);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    } catch {
      drop();
      return;
    }
    if (this.closed || dropped) {
      if (!dropped) {
        dropped = true;
        await client.end().catch(() => {});
      }
      return;
    }
    this.client = client;
    this.backoffMs = MIN_BACKOFF_MS;
    if (this.deafSince !== null) {
      const gap = { since: this.deafSince, until: this.options.now() };
      this.deafSince = null;
      this.options.onGap(gap);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const client = this.client;
    this.client = null;
    if (client) {
      client.removeAllListeners("end");
      client.removeAllListeners("notification");
      client.on("error", () => {});
      await client.end().catch(() => {});
    }
  }

  private scheduleReconnect(): void {
    if (this.closed || this.timer) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.start();
    }, delay);
    this.timer.unref();
  }
}
