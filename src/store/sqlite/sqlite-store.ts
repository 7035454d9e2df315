import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { type AnyOp, isQueueOp, type OpResult } from "../../core/ops.js";
import type {
  Lane,
  Page,
  Request,
  RequestEvent,
  RequestFilter,
  ApiKey,
  CostSplit,
  RequestRecord,
  RequestScope,
} from "../../core/types.js";
import { SQLITE_MIGRATIONS } from "../migrations/sqlite.js";
import { ApiKeyRecords } from "../api-key-records.js";
import { countRemoved, noneRemoved, PURGED_TABLES, purgeInBatches } from "../purge.js";
import {
  type CostRow,
  type EventRow,
  type RequestRow,
  type StageRow,
  toCost,
  toEvent,
  toRequestRecord,
  toStage,
} from "../rows.js";
import { ftsFold, sqlitePromptClause } from "../prompt-search.js";
import { requestListWhere } from "../request-filter.js";
import { containsPattern, encodeCursor, type PurgeCounts, type Store } from "../store.js";
import { migrateSqlite } from "./migrate.js";
import { SqliteAnalytics } from "./sqlite-analytics.js";
import { SqliteBudgets } from "./sqlite-budgets.js";
import { SqliteListCount } from "./sqlite-list-count.js";
import { SqlitePrices } from "./sqlite-prices.js";
import { SqliteReplays } from "./sqlite-replays.js";
import { SqliteQueue } from "./sqlite-queue.js";
import { SqliteWriter } from "./sqlite-writer.js";
import { prepared, sqliteRunner } from "./prepared.js";

export interface SqliteStoreOptions {
  /**
   * How long a write waits for another connection's lock before the store counts as down
   * (default 2000 ms). The wait is asynchronous: the event loop keeps running meanwhile.
   */
  busyTimeoutMs?: number;
  /**
   * "normal" (default): WAL with synchronous=NORMAL; a commit survives a crash of the process,
   * and the last commits before an OS crash or power cut may be lost.
   * "full": synchronous=FULL; every commit is fsync'd before it is acknowledged.
   */
  durability?: "normal" | "full";
  /** Clock for migration bookkeeping. */
  now?: () => number;
}

// SQLITE_BUSY/LOCKED: another connection holds the lock; IOERR/FULL/CANTOPEN/READONLY: the
// file or its disk is gone. Everything else (constraints, misuse) is a bug, not an outage.
const UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|PROTOCOL|NOMEM)/;
const BUSY = /^SQLITE_(BUSY|LOCKED)/;

/**
 * How long one attempt may wait for a lock inside SQLite. SQLite's busy handler sleeps on the
 * calling thread, so a long busy timeout would freeze the event loop (and the app around the
 * tracker) for as long as another connection holds the lock: attempts wait this little, and
 * the wait between them is a timer (see `whileBusy`).
 */
const LOCK_SPIN_MS = 5;
const MAX_PAUSE_MS = 100;

/** The embedded driver: one SQLite file (or ":memory:") through better-sqlite3. */
export class SqliteStore implements Store {
  readonly driver = "sqlite" as const;
  readonly analytics: SqliteAnalytics;
  readonly budgets: SqliteBudgets;
  readonly prices: SqlitePrices;
  readonly replays: SqliteReplays;
  readonly db: Database.Database;
  private readonly writer: SqliteWriter;
  private readonly queue: SqliteQueue;
  private readonly listCount: SqliteListCount;
  private readonly keys: ApiKeyRecords;
  private readonly applyBatch: (ops: readonly AnyOp[], dedupe: boolean) => OpResult[];
  private readonly busyTimeoutMs: number;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    if (path !== ":memory:" && !path.startsWith("file:")) {
      mkdirSync(dirname(path), { recursive: true });
    }
    this.busyTimeoutMs = options.busyTimeoutMs ?? 2000;
    // Opening (and migrating) runs once, before anything else could be waiting: it may block.
    this.db = new Database(path, { timeout: this.busyTimeoutMs });
    this.db.pragma("journal_mode = WAL");
    this.db.pragma(`synchronous = ${options.durability === "full" ? "FULL" : "NORMAL"}`);
    this.db.pragma("foreign_keys = OFF");
    // The prompt search's check of its candidates (prompt-search.ts).
    this.db.function("reqtrack_fold", { deterministic: true }, (text: unknown) =>
      typeof text === "string" ? ftsFold(text) : null,
    );
    migrateSqlite(this.db, SQLITE_MIGRATIONS, (options.now ?? Date.now)());
    this.db.pragma(`busy_timeout = ${LOCK_SPIN_MS}`);
    this.writer = new SqliteWriter(this.db);
    this.analytics = new SqliteAnalytics(this.db);
    this.listCount = new SqliteListCount(this.db, this.analytics);
    this.budgets = new SqliteBudgets(this.db, (write) => this.whileBusy(write));
    this.prices = new SqlitePrices(this.db, (write) => this.whileBusy(write), this.writer.rollups);
    this.replays = new SqliteReplays(this.db, (write) => this.whileBusy(write));
    this.keys = new ApiKeyRecords(sqliteRunner(this.db, (write) => this.whileBusy(write)));

    // Fast path: ops run straight in the batch transaction, because the writer reports
    // domain errors before writing anything. Only an unexpected exception could leave an op
    // half-applied; then the batch rolls back and runs again with a savepoint per op, so the
    // failing op leaves nothing behind while the others commit. (Savepoints on every op cost
    // about a fifth of ingest throughput: bench/ingest.)
    this.queue = new SqliteQueue(this.db, this.writer);
    const applyDirect = (op: AnyOp): OpResult => {
      this.writer.takeChanges(); // drop what a rolled-back attempt may have left
      const result: OpResult = isQueueOp(op)
        ? { ok: true, queue: this.queue.apply(op) }
        : this.writer.apply(op);
      const changes = this.writer.takeChanges();
      return result.ok && changes.length > 0 ? { ...result, changes } : result;
    };
    const applyOne = this.db.transaction(applyDirect);
    // Rollups change in the same transaction as the rows they summarize.
    const run = (ops: readonly AnyOp[], dedupe: boolean, one: (op: AnyOp) => OpResult) =>
      this.writer.rollups.within(() =>
        ops.map((op, index): OpResult => {
          this.queue.before(ops, index);
          if (isQueueOp(op) || !(dedupe || op.dedupe)) return one(op);
          if (!this.writer.markApplied(op.opId, op.at)) return { ok: true, duplicate: true };
          const result = one(op);
          // A refused op changed nothing: forget its id, so a resend is judged again (and
          // answered with its error) instead of passing as an applied duplicate.
          if (!result.ok) this.writer.unmarkApplied(op.opId);
          return result;
        }),
      );
    const fast = this.db.transaction((ops: readonly AnyOp[], dedupe: boolean) =>
      run(ops, dedupe, applyDirect),
    );
    const safe = this.db.transaction((ops: readonly AnyOp[], dedupe: boolean) =>
      run(ops, dedupe, (op) => {
        try {
          return applyOne(op);
        } catch (error) {
          if (this.isUnavailable(error)) throw error;
          return { ok: false, error: error as Error };
        }
      }),
    );
    this.applyBatch = (ops, dedupe) => {
      try {
        return fast.immediate(ops, dedupe);
      } catch (error) {
        if (this.isUnavailable(error)) throw error;
        return safe.immediate(ops, dedupe);
      }
    };
  }

  async apply(
    ops: readonly AnyOp[],
    options: { dedupe?: boolean; changes?: boolean } = {},
  ): Promise<OpResult[]> {
    return this.whileBusy(() => {
      this.writer.captureChanges = options.changes ?? false;
      return this.applyBatch(ops, options.dedupe ?? false);
    });
  }

  async queueDepth(tenantId?: string): Promise<Record<Lane, number>> {
    const byTenant = tenantId === undefined ? "" : "AND tenant_id = ?";
    const rows = prepared(
      this.db,
      `SELECT lane, count(*) AS n FROM requests
      WHERE status = 'pending' AND deleted_at IS NULL ${byTenant} GROUP BY lane`,
    ).all(...(tenantId === undefined ? [] : [tenantId])) as {
      lane: Lane;
      n: number;
    }[];
    const depth: Record<Lane, number> = { high: 0, normal: 0, low: 0 };
    for (const row of rows) depth[row.lane] = row.n;
    return depth;
  }

  async pruneAppliedOps(olderThan: number): Promise<number> {
    // In slices, so that a large backlog never holds the write lock for long.
    const prune = prepared(
      this.db,
      `DELETE FROM applied_ops WHERE op_id IN
      (SELECT op_id FROM applied_ops WHERE applied_at < ? LIMIT 5000)`,
    );
    let total = 0;
    for (;;) {
      const n = (await this.whileBusy(() => prune.run(olderThan))).changes;
      total += n;
      if (n === 0) return total;
    }
  }

  async purge(olderThan: number, batchSize = 1000): Promise<PurgeCounts> {
    const ids = prepared(this.db, "SELECT id FROM requests WHERE created_at < ? LIMIT ?").pluck();
    const purgeBatch = this.db.transaction((batch: string): PurgeCounts => {
      this.writer.rollups.within(() => this.writer.rollups.forget(JSON.parse(batch) as string[]));
      const counts = noneRemoved();
      for (const table of PURGED_TABLES) {
        const remove = `DELETE FROM ${table.table} WHERE ${table.column} IN (SELECT value FROM json_each(?))`;
        countRemoved(counts, table, prepared(this.db, remove).run(batch).changes);
      }
      return counts;
    });
    return purgeInBatches(batchSize, async () => {
      const batch = ids.all(olderThan, batchSize) as string[];
      if (batch.length === 0) return { ids: 0, counts: noneRemoved() };
      const counts = await this.whileBusy(() => purgeBatch.immediate(JSON.stringify(batch)));
      return { ids: batch.length, counts };
    });
  }

  async getRequest(
    id: string,
    options: { includeDeleted?: boolean } = {},
  ): Promise<Request | null> {
    const row = prepared(
      this.db,
      options.includeDeleted
        ? "SELECT * FROM requests WHERE id = ?"
        : "SELECT * FROM requests WHERE id = ? AND deleted_at IS NULL",
    ).get(id) as RequestRow | undefined;
    if (!row) return null;
    const stages = prepared(
      this.db,
      "SELECT * FROM stages WHERE request_id = ? ORDER BY started_at, attempt, name",
    ).all(id) as StageRow[];
    const costs = prepared(this.db, "SELECT * FROM costs WHERE request_id = ? ORDER BY id").all(
      id,
    ) as CostRow[];
    return { ...toRequestRecord(row), stages: stages.map(toStage), costs: costs.map(toCost) };
  }

  async changeStamp(): Promise<string> {
    // total_changes(): rows this connection changed (triggers included); data_version moves
    // when another connection (a worker thread, the CLI, another process) commits to the file.
    const stamp = "SELECT total_changes() || ':' || data_version FROM pragma_data_version";
    return prepared(this.db, stamp).pluck().get() as string;
  }

  async schemaVersion(): Promise<number> {
    return prepared(this.db, "SELECT coalesce(max(version), 0) FROM schema_migrations")
      .pluck()
      .get() as number;
  }

  async getScope(id: string): Promise<RequestScope | null> {
    const scope = prepared(
      this.db,
      `SELECT status, tenant_id AS tenantId, kind FROM requests
      WHERE id = ? AND deleted_at IS NULL`,
    ).get(id) as RequestScope | undefined;
    return scope ?? null;
  }

  saveApiKey(key: ApiKey & { hash: string }): Promise<void> {
    return this.keys.save(key);
  }

  findApiKey(hash: string): Promise<ApiKey | null> {
    return this.keys.find(hash);
  }

  listApiKeys(): Promise<ApiKey[]> {
    return this.keys.list();
  }

  revokeApiKey(id: string, at: number): Promise<boolean> {
    return this.keys.revoke(id, at);
  }

  async getEvents(id: string): Promise<RequestEvent[]> {
    const rows = prepared(this.db, "SELECT * FROM events WHERE request_id = ? ORDER BY id").all(
      id,
    ) as EventRow[];
    return rows.map((row, i) => toEvent(row, i + 1));
  }

  async listRequests(filter: RequestFilter): Promise<Page<RequestRecord>> {
    const {
      count: where,
      page: pageWhere,
      params: pageParams,
      countParams,
    } = requestListWhere(filter, {
      placeholder: () => "?",
      oneOf: (column, values, param) => `${column} IN (${values.map(param).join(", ")})`,
      // From its full-text index (prompt-search.ts); short text scans with LIKE.
      promptContains: (text, param) => {
        const search = sqlitePromptClause(
          text,
          containsPattern(text),
          (match, cap) =>
            prepared(
              this.db,
              `SELECT count(*) FROM (SELECT 1 FROM request_prompts
              WHERE request_prompts MATCH ? LIMIT ?)`,
            )
              .pluck()
              .get(match, cap) as number,
        );
        for (const p of search.params) param(p);
        return search.sql;
      },
    });
    const params = pageParams.slice(0, countParams);
    const { total, exact } = this.listCount.total(filter, clause(where), params);
    const sql = `SELECT * FROM requests${clause(pageWhere)}
      ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`;
    const rows = prepared(this.db, sql).all(
      ...pageParams,
      filter.limit,
      filter.offset,
    ) as RequestRow[];
    const last = rows.at(-1);
    const more = last !== undefined && rows.length === filter.limit;
    return {
      items: rows.map(toRequestRecord),
      total,
      ...(exact ? {} : { totalExact: false as const }),
      nextCursor: more ? encodeCursor(last.created_at, last.id) : null,
    };
  }

  async costSplit(requestIds: readonly string[], tenantId?: string): Promise<CostSplit[]> {
    if (requestIds.length === 0) return [];
    const tenant = tenantId === undefined ? "" : "AND r.tenant_id = ?";
    return prepared(
      this.db,
      `SELECT c.request_id AS requestId, c.service, sum(c.amount_micros) AS amountMicros,
        count(*) AS records
      FROM costs c JOIN requests r ON r.id = c.request_id
      WHERE c.request_id IN (${requestIds.map(() => "?").join(", ")})
        AND r.deleted_at IS NULL ${tenant}
      GROUP BY c.request_id, c.service
      ORDER BY c.request_id, amountMicros DESC, c.service`,
    ).all(...requestIds, ...(tenantId === undefined ? [] : [tenantId])) as CostSplit[];
  }

  isUnavailable(error: unknown): boolean {
    const code = (error as { code?: unknown } | null)?.code;
    return typeof code === "string" && UNAVAILABLE.test(code);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  /**
   * Runs `write` (one statement or one transaction), and while another connection holds the
   * lock tries again after a timer, with growing pauses, for up to `busyTimeoutMs`. Each
   * attempt blocks for at most LOCK_SPIN_MS; a failed attempt wrote nothing (transactions roll
   * back whole), so trying again is safe.
   */
  private async whileBusy<T>(write: () => T): Promise<T> {
    const giveUpAt = Date.now() + this.busyTimeoutMs;
    for (let pause = 1; ; pause = Math.min(pause * 2, MAX_PAUSE_MS)) {
      try {
        return write();
      } catch (error) {
        const code = (error as { code?: unknown } | null)?.code;
        if (typeof code !== "string" || !BUSY.test(code) || Date.now() + pause > giveUpAt) {
          throw error;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

function clause(where: string[]): string {
  return where.length > 0 ? ` WHERE ${where.join(" AND ")}` : "";
}
