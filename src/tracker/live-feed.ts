import { EventEmitter } from "node:events";
import type { Logger } from "../context/logger.js";
import type { AlertEvent, LiveEvent, ResyncEvent } from "../core/live-events.js";
import type { ChangeEvent } from "../core/ops.js";
import type { Store } from "../store/store.js";
import type { KnownRequests } from "./known-requests.js";

export interface LiveFeedOptions {
  store: Store;
  logger: Logger;
  clock: () => number;
  known: KnownRequests;
  labelFields: readonly string[];
  /** Called when another server created pending work, or may have while we did not hear. */
  wake: () => void;
}

/**
 * The tracker's live events: this server's committed changes, other servers' changes heard
 * through the store (PostgreSQL LISTEN/NOTIFY), alerts, and a `resync` after a gap in
 * hearing them. The live stream (SSE) and metrics subscribe here.
 */
export class LiveFeed {
  private readonly live = new EventEmitter();
  private readonly stops: (() => void)[] = [];

  constructor(private readonly options: LiveFeedOptions) {
    this.live.setMaxListeners(0);
    const { store } = options;
    const stopChanges = store.onRemoteChanges?.((changes) => this.heard(changes));
    const stopGaps = store.onRemoteGap?.((gap) => this.missed(gap));
    if (stopChanges) this.stops.push(stopChanges);
    if (stopGaps) this.stops.push(stopGaps);
  }

  subscribe(listener: (event: LiveEvent) => void): () => void {
    this.live.on("live", listener);
    return () => this.live.off("live", listener);
  }

  /** Whether anyone listens now; when not, the store skips recording change events. */
  get wanted(): boolean {
    return this.live.listenerCount("live") > 0;
  }

  alert(alert: Omit<AlertEvent, "type" | "at">): void {
    const event: AlertEvent = { type: "alert", at: this.options.clock(), ...alert };
    this.options.logger.warn(
      { alert: event.name, request_id: event.requestId ?? undefined, data: event.data },
      event.message,
    );
    this.live.emit("live", event);
  }

  /** This server's committed changes. */
  publish(changes: readonly ChangeEvent[]): void {
    const { known, labelFields } = this.options;
    for (const change of changes) {
      // A run's end carries the request's labels (`labelFields`), for metrics.
      if (labelFields.length > 0 && typeof change.data.to === "string") {
        const labels = known.labelsOf(change.requestId);
        if (labels) change.data.labels = labels;
      }
      this.live.emit("live", change);
    }
  }

  /** Stops hearing other servers' changes and gaps in them. */
  stop(): void {
    for (const stop of this.stops.splice(0)) stop();
  }

  /** Changes committed through other servers: subscribers see them, new work wakes workers. */
  private heard(changes: readonly ChangeEvent[]): void {
    let work = false;
    for (const change of changes) {
      this.live.emit("live", change);
      if (change.status === "pending" && change.type.startsWith("request.")) work = true;
    }
    if (work) this.options.wake();
  }

  /**
   * Heard again after a gap: whatever other servers committed meanwhile was not heard.
   * Subscribers reload; idle workers look for work that may have been created meanwhile.
   */
  private missed(gap: { since: number; until: number }): void {
    this.options.logger.warn(
      { since: new Date(gap.since).toISOString(), until: new Date(gap.until).toISOString() },
      "Did not hear other servers' changes for a while (LISTEN reconnected); live subscribers were told to resync",
    );
    this.options.wake();
    const event: ResyncEvent = {
      type: "resync",
      reason: "missed_changes",
      since: gap.since,
      at: gap.until,
    };
    try {
      this.live.emit("live", event);
    } catch (error) {
      this.options.logger.error({ err: error }, "change subscriber threw");
    }
  }
}
