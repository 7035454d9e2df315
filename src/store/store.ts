import type { AnyOp, ChangeEvent, OpResult } from "../core/ops.js";
import type { AnalyticsStore } from "./analytics-store.js";
import type { BudgetStore } from "./budget-store.js";
import type { PriceStore } from "./price-store.js";
import type { ReplayStore } from "./replay-store.js";
import type {
  ApiKey,
  CostSplit,
  Page,
  Request,
  RequestEvent,
  RequestFilter,
  Lane,
  RequestRecord,
  RequestScope,
} from "../core/types.js";

/** Rows removed by a hard delete (retention or `cleanup`). */
export interface PurgeCounts {
  requests: number;
  stages: number;
  events: number;
  costs: number;
}

/**
 * A time when a store could not hear other stores' changes (its LISTEN connection was down):
 * changes committed from `since` to `until` (epoch ms) may never have reached
 * `onRemoteChanges`.
 */
export interface RemoteGap {
  since: number;
  until: number;
}

/**
 * The storage contract. Every driver (sqlite/, postgres/) implements it and passes
 * the one contract suite in test/contract/. Drivers only translate: lifecycle rules live
 * in core/lifecycle.ts and are applied by every driver the same way.
 */
export interface Store {
  /** Stats and cost aggregates (`tracker.stats`, `tracker.costs`); a driver without them leaves it out. */
  readonly analytics?: AnalyticsStore;
  readonly driver: "sqlite" | "postgres";
  /** Cost budgets and their alert records (`tracker.budgets`). */
  readonly budgets: BudgetStore;
  /** The price table and reprice (`tracker.prices`). */
  readonly prices: PriceStore;
  /** Reused stages, replays of a request and bulk replay jobs (`tracker.replay`). */
  readonly replays: ReplayStore;

  /**
   * Applies `ops` in order in one transaction and returns one result per op. A domain error
   * (unknown request, invalid transition) fails only its own op, which changes nothing.
   * When the store cannot be written at all, `apply` throws and nothing was committed;
   * `isUnavailable` tells such errors apart.
   *
   * With `dedupe`, each op id is recorded and an op whose id was already applied is skipped:
   * this is how outbox replays and remote ingest stay exactly-once. A driver may dedupe every
   * op whatever `dedupe` says (PostgreSQL does: over a network a commit's answer can be lost,
   * and the replay must then be skipped). With `changes`, each result carries the
   * `ChangeEvent`s its op caused, for live subscribers.
   */
  apply(
    ops: readonly AnyOp[],
    options?: { dedupe?: boolean; changes?: boolean },
  ): Promise<OpResult[]>;

  /**
   * Forgets the ids of ops applied before `olderThan` (epoch ms); returns how many. Op ids
   * are kept only for the dedupe window: a resend older than that would apply again.
   */
  pruneAppliedOps(olderThan: number): Promise<number>;

  /** Pending requests per lane (soft-deleted ones excluded), of one tenant when given. */
  queueDepth(tenantId?: string): Promise<Record<Lane, number>>;

  /**
   * Hard-deletes requests created before `olderThan` (epoch ms), with their stages, events,
   * costs and tags, in transactions of at most `batchSize` requests so that writers are
   * never blocked for long.
   */
  purge(olderThan: number, batchSize?: number): Promise<PurgeCounts>;

  getRequest(id: string, options?: { includeDeleted?: boolean }): Promise<Request | null>;
  /**
   * A stamp that changes whenever anything stored may have changed since it was last read (a
   * write through this store or, on SQLite, a commit by another connection to the same file),
   * or null where the store cannot tell cheaply (PostgreSQL: other servers write without
   * telling this one). A cache of reads keys its entries on it: read the stamp, then the data.
   */
  changeStamp(): Promise<string | null>;
  /** The schema version the database is at (the highest applied migration). */
  schemaVersion(): Promise<number>;

  /** Status, tenant and kind of a live (not soft-deleted) request, or null. */
  getScope(id: string): Promise<RequestScope | null>;
  getEvents(id: string): Promise<RequestEvent[]>;
  listRequests(filter: RequestFilter): Promise<Page<RequestRecord>>;
  /**
   * The cost of each of `requestIds` per service (soft-deleted requests left out; only those
   * of `tenantId` when given), ordered by request, then by amount, largest first: a page of
   * list rows gets its per-service split in one read instead of one per row.
   */
  costSplit(requestIds: readonly string[], tenantId?: string): Promise<CostSplit[]>;

  /** Stores a new API key (its hash, never the secret). */
  saveApiKey(key: ApiKey & { hash: string }): Promise<void>;
  /** The key whose secret hashes to `hash`, revoked or not; null when none. */
  findApiKey(hash: string): Promise<ApiKey | null>;
  listApiKeys(): Promise<ApiKey[]>;
  /** Marks a key revoked; false when no such key, or already revoked. */
  revokeApiKey(id: string, at: number): Promise<boolean>;

  /**
   * Calls `listener` with changes committed by other store instances on the same database
   * (other servers), so that their live subscribers and idle workers hear of them. Returns
   * the unsubscribe function. Only drivers shared by several servers (PostgreSQL) have it.
   */
  onRemoteChanges?(listener: (changes: ChangeEvent[]) => void): () => void;

  /**
   * Calls `listener` when `onRemoteChanges` may have missed changes: the store stopped
   * hearing other stores (a dropped connection) and now hears them again. It is called after
   * listening resumed, so a listener that reloads its state then misses nothing: what was
   * committed before the reload is read, what is committed after it is delivered. Returns the
   * unsubscribe function. A driver with `onRemoteChanges` that can lose changes must have it.
   */
  onRemoteGap?(listener: (gap: RemoteGap) => void): () => void;

  /** True when `error` means "the store is down or locked", not "the input was wrong". */
  isUnavailable(error: unknown): boolean;
  close(): Promise<void>;
}

/** Encodes a keyset position (createdAt, id) of a list sorted newest first. */
export function encodeCursor(createdAt: number, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString("base64url");
}

/** The position a cursor encodes, or null when it is not one of ours. */
export function decodeCursor(cursor: string): { createdAt: number; id: string } | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      Number.isSafeInteger(value[0]) &&
      typeof value[1] === "string"
    ) {
      return { createdAt: value[0] as number, id: value[1] };
    }
  } catch {
    // Falls through: a malformed cursor is the caller's error, reported by the caller.
  }
  return null;
}

/**
 * A LIKE pattern (with `ESCAPE '\'`) that matches any text containing `text`: its own `%`, `_`
 * and `\` are escaped, so a search for "100%" finds "100%", not every row.
 */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
