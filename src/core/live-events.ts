import type { ChangeEvent } from "./ops.js";
import type { JsonValue } from "./types.js";

/** An alert on the live stream: a breaker opened, a failure rate passed its threshold, ... */
export interface AlertEvent {
  type: "alert";
  /** A stable name, e.g. "circuit_breaker_open". */
  name: string;
  message: string;
  at: number;
  requestId?: string | null;
  tenantId?: string | null;
  data?: { [key: string]: JsonValue };
}

/**
 * On the live stream: changes may have been missed, so what a subscriber built from earlier
 * events may be stale. Reload it (lists, open details), then keep applying events.
 */
export interface ResyncEvent {
  type: "resync";
  /**
   * "missed_changes": this server could not hear other servers' changes for a while (its
   * PostgreSQL LISTEN connection dropped and is back). "resume_unavailable" (SSE only): the
   * stream cannot replay from the client's `Last-Event-ID` (too old, or issued by another
   * server or an earlier run).
   */
  reason: "missed_changes" | "resume_unavailable";
  /** Since when changes may be missing (epoch ms); null when unknown. */
  since: number | null;
  at: number;
}

/** What `subscribe()` listeners receive. */
export type LiveEvent = ChangeEvent | AlertEvent | ResyncEvent;
