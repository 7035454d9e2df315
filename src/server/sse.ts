import type { ServerResponse } from "node:http";
import type { RequestStatus } from "../core/types.js";
import type { LiveEvent, Tracker } from "../tracker/tracker.js";

/** What one SSE subscription wants to see. `tenantId` is forced to the key's tenant. */
export interface StreamFilter {
  tenantId?: string;
  statuses?: RequestStatus[];
  kind?: string;
  requestId?: string;
}

interface Entry {
  id: number;
  event: LiveEvent;
  /** Serialized on first use: with no client connected, most events are never sent. */
  frame: string | null;
}

interface Client {
  filter: StreamFilter;
  res: ServerResponse;
}

/**
 * Fans live changes out to Server-Sent Events clients. Each event gets an increasing id and
 * is kept in a bounded ring buffer, so a client that reconnects with `Last-Event-ID` gets
 * what it missed (as long as it is still in the buffer). Each event is serialized once.
 */
export class SseHub {
  private readonly buffer: Entry[] = [];
  private readonly clients = new Set<Client>();
  private nextId = 1;
  private readonly unsubscribe: () => void;
  private readonly keepAlive: NodeJS.Timeout;

  constructor(
    tracker: Tracker,
    private readonly bufferSize = 1000,
    keepAliveMs = 15_000,
  ) {
    this.unsubscribe = tracker.subscribe((event) => this.publish(event));
    // A comment line every so often keeps proxies from closing an idle stream.
    this.keepAlive = setInterval(() => {
      for (const client of this.clients) client.res.write(": keep-alive\n\n");
    }, keepAliveMs);
    this.keepAlive.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Starts streaming to `res`; replays buffered events after `lastEventId` first. */
  attach(res: ServerResponse, filter: StreamFilter, lastEventId: number | null): void {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.write("retry: 2000\n\n");
    if (lastEventId !== null) {
      for (const entry of this.buffer) {
        if (entry.id > lastEventId && matches(entry.event, filter)) res.write(frameOf(entry));
      }
    }
    const client = { filter, res };
    this.clients.add(client);
    res.on("close", () => this.clients.delete(client));
  }

  close(): void {
    this.unsubscribe();
    clearInterval(this.keepAlive);
    for (const client of this.clients) client.res.end();
    this.clients.clear();
  }

  private publish(event: LiveEvent): void {
    const entry: Entry = { id: this.nextId++, event, frame: null };
    this.buffer.push(entry);
    if (this.buffer.length > this.bufferSize) this.buffer.shift();
    for (const client of this.clients) {
      if (matches(event, client.filter)) client.res.write(frameOf(entry));
    }
  }
}

function frameOf(entry: Entry): string {
  entry.frame ??= `id: ${entry.id}\nevent: ${entry.event.type}\ndata: ${JSON.stringify(toWire(entry.event))}\n\n`;
  return entry.frame;
}

function matches(event: LiveEvent, filter: StreamFilter): boolean {
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
  return { ...event, at: new Date(event.at).toISOString() };
}
