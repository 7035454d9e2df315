import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { RequestStatus } from "../core/types.js";
import type { LiveEvent, ResyncEvent, Tracker } from "../tracker/tracker.js";

/** What one SSE subscription wants to see. `tenantId` is forced to the key's tenant. */
export interface StreamFilter {
  tenantId?: string;
  statuses?: RequestStatus[];
  kind?: string;
  requestId?: string;
}

interface Entry {
  seq: number;
  event: LiveEvent;
  /** Serialized on first use: with no client connected, most events are never sent. */
  frame: string | null;
}

interface Client {
  filter: StreamFilter;
  res: ServerResponse;
}

/**
 * Fans live changes out to Server-Sent Events clients. Each event gets an id and is kept in
 * a bounded ring buffer, so a client that reconnects with `Last-Event-ID` gets what it
 * missed. When that cannot be done (the id fell out of the buffer, or another server or an
 * earlier run issued it), the client gets a `resync` instead of a silently partial replay.
 * Each event is serialized once.
 */
export class SseHub {
  private readonly buffer: Entry[] = [];
  private readonly clients = new Set<Client>();
  /**
   * Ids are `<hub>-<seq>`: behind a load balancer a client may reconnect to another server,
   * whose sequence numbers mean other events; the hub part tells them apart.
   */
  private readonly hub = randomBytes(4).toString("hex");
  private nextSeq = 1;
  /** Clients dropped because they stopped reading (see `send`). */
  dropped = 0;
  private readonly unsubscribe: () => void;
  private readonly keepAlive: NodeJS.Timeout;

  constructor(
    tracker: Tracker,
    private readonly bufferSize = 1000,
    keepAliveMs = 15_000,
    private readonly maxUnsentBytes = 4 * 1024 * 1024,
  ) {
    this.unsubscribe = tracker.subscribe((event) => this.publish(event));
    // A comment line every so often keeps proxies from closing an idle stream.
    this.keepAlive = setInterval(() => {
      for (const client of this.clients) this.send(client, ": keep-alive\n\n");
    }, keepAliveMs);
    this.keepAlive.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /**
   * Starts streaming to `res`. With a `lastEventId` (the `Last-Event-ID` header), first
   * replays the buffered events after it, or sends a `resync` when it cannot.
   */
  attach(res: ServerResponse, filter: StreamFilter, lastEventId: string | null): void {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.write("retry: 2000\n\n");
    if (lastEventId !== null) {
      const after = this.positionOf(lastEventId);
      if (after === null) {
        const resync: ResyncEvent = {
          type: "resync",
          reason: "resume_unavailable",
          since: null,
          at: Date.now(),
        };
        // With the id of the newest event, so that the client's next resume starts here.
        res.write(frameOf(this.hub, { seq: this.nextSeq - 1, event: resync, frame: null }));
      } else {
        for (const entry of this.buffer) {
          if (entry.seq > after && matches(entry.event, filter)) {
            res.write(frameOf(this.hub, entry));
          }
        }
      }
    }
    const client = { filter, res };
    this.clients.add(client);
    res.on("close", () => this.clients.delete(client));
  }

  /**
   * Ends every stream with a final `shutdown` event, so clients reconnect (to another server
   * behind the load balancer, or to this one once it is back) instead of waiting on a stream
   * that will never speak again. Called at the start of shutdown: an open stream would
   * otherwise keep the HTTP server from closing for as long as the client stays.
   */
  close(): void {
    this.unsubscribe();
    clearInterval(this.keepAlive);
    const frame = `event: shutdown\ndata: ${JSON.stringify({
      type: "shutdown",
      reason: "server_shutdown",
      reconnect: true,
      at: new Date().toISOString(),
    })}\n\n`;
    for (const client of this.clients) client.res.end(frame);
    this.clients.clear();
  }

  /**
   * The sequence number a client that last saw `lastEventId` has seen up to, when the buffer
   * still holds everything after it; else null.
   */
  private positionOf(lastEventId: string): number | null {
    const match = /^([0-9a-f]+)-(\d+)$/.exec(lastEventId);
    if (match?.[1] !== this.hub) return null;
    const seq = Number(match[2]);
    const oldest = this.buffer[0]?.seq ?? this.nextSeq;
    return seq >= oldest - 1 && seq < this.nextSeq ? seq : null;
  }

  private publish(event: LiveEvent): void {
    const entry: Entry = { seq: this.nextSeq++, event, frame: null };
    this.buffer.push(entry);
    if (this.buffer.length > this.bufferSize) this.buffer.shift();
    for (const client of this.clients) {
      if (matches(event, client.filter)) this.send(client, frameOf(this.hub, entry));
    }
  }

  /**
   * Writes to one client. A client that stops reading (or reads slower than events come)
   * leaves what it has not taken in this process's memory; past `maxUnsentBytes` it is cut
   * off, and reconnects with its Last-Event-ID like after any dropped connection.
   */
  private send(client: Client, frame: string): void {
    client.res.write(frame);
    if (client.res.writableLength > this.maxUnsentBytes) {
      this.clients.delete(client);
      this.dropped++;
      client.res.destroy();
    }
  }
}

function frameOf(hub: string, entry: Entry): string {
  entry.frame ??= `id: ${hub}-${entry.seq}\nevent: ${entry.event.type}\ndata: ${JSON.stringify(toWire(entry.event))}\n\n`;
  return entry.frame;
}

function matches(event: LiveEvent, filter: StreamFilter): boolean {
  // A resync concerns every subscription: any of them may have missed changes.
  if (event.type === "resync") return true;
  if (event.type === "alert") {
    // Alerts without a tenant (a breaker opened) concern everyone; others only their tenant.
    return !filter.tenantId || !event.tenantId || event.tenantId === filter.tenantId;
  }
  if (filter.tenantId && event.tenantId !== filter.tenantId) return false;
  if (filter.requestId && event.requestId !== filter.requestId) return false;
  if (filter.kind && event.kind !== filter.kind) return false;
  if (filter.statuses && !filter.statuses.includes(event.status)) return false;
  return true;
}

function toWire(event: LiveEvent): Record<string, unknown> {
  const wire: Record<string, unknown> = { ...event, at: new Date(event.at).toISOString() };
  if (event.type === "resync") {
    wire.since = event.since === null ? null : new Date(event.since).toISOString();
  }
  return wire;
}
