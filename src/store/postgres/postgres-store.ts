import type * as Pg from "pg";
import { requestListWhere } from "../request-filter.js";
import { type AnyOp, type ChangeEvent, type OpResult, withoutChanges } from "../../core/ops.js";
import type {
  ApiKey,
  CostSplit,
  Lane,
  Page,
  Request,
  RequestEvent,
  RequestFilter,
  RequestRecord,
  RequestScope,
} from "../../core/types.js";
import { ApiKeyRecords } from "../api-key-records.js";
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
import {
  containsPattern,
  encodeCursor,
  type PurgeCounts,
  type RemoteGap,
  type Store,
} from "../store.js";
import { Sql } from "./pg-connection.js";
import { isPostgresUnavailable, isRetryable } from "./postgres-errors.js";
import { changeChannel, changePayloads } from "./postgres-notify.js";
import { openPool, type PostgresStoreOptions, RemoteChanges } from "./postgres-open.js";
import { PostgresAnalytics } from "./postgres-analytics.js";
import { PostgresListCount } from "./postgres-list-count.js";
import { PostgresBudgets } from "./postgres-budgets.js";
import { PostgresPrices } from "./postgres-prices.js";
import { PostgresReplays } from "./postgres-replays.js";
import { PostgresRollups } from "./postgres-rollups.js";
import { applyBatch, type BatchOptions } from "./postgres-apply.js";
import { pruneAppliedOps, purge, queueDepth } from "./postgres-housekeeping.js";

export { isPostgresUrl, type PostgresStoreOptions } from "./postgres-open.js";

/**
 * A write transaction plans each statement for its actual arrays. A cached generic plan of
 * the batch statements is made once per connection, maybe while the tables were small, and
 * kept after they grew: a hash join over every request instead of index lookups (measured:
 * 1,202 against 667 lifecycles/s from an empty table; planning costs less than that scan).
 * SET LOCAL goes with BEGIN in one round trip and ends with the transaction, so it is safe
 * behind pgbouncer's transaction pooling.
 */
const BEGIN_WRITE = "BEGIN; SET LOCAL plan_cache_mode = force_custom_plan";

/** Reads that must agree (a page and its total): one snapshot, planned for their values too. */
const BEGIN_SNAPSHOT =
  "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL plan_cache_mode = force_custom_plan";

/** Attempts of a batch that keeps losing deadlocks or serialization checks to other servers. */
const MAX_ATTEMPTS = 5;

/**
 * The scale-out driver: PostgreSQL through a `pg` Pool, for several servers on one
 * database. Each `apply` batch is one transaction on one pooled connection; queue ops pick
 * rows with `FOR UPDATE SKIP LOCKED`, so servers claiming at once never take a request twice.
 *
 * @example
 * const store = await PostgresStore.open({ connectionString: "postgres://localhost/reqtrack" });
 */
export class PostgresStore implements Store {
  readonly driver = "postgres" as const;
  private readonly sql: Sql;
  private readonly keys: ApiKeyRecords;
  /** Stats and cost reports, from rollups kept in the write transactions. */
  readonly analytics: PostgresAnalytics;
  private readonly listCount: PostgresListCount;
  readonly budgets: PostgresBudgets;
  readonly prices: PostgresPrices;
  readonly replays: PostgresReplays;
  /** Other servers' changes, heard on the LISTEN connection. */
  private readonly remote = new RemoteChanges();

  private constructor(
    private readonly pool: Pg.Pool,
    /** The NOTIFY channel of this schema; null when notifications are off. */
    private readonly channel: string | null,
  ) {
    this.sql = new Sql(pool);
    this.analytics = new PostgresAnalytics(this.sql);
    this.listCount = new PostgresListCount(this.sql, this.analytics);
    this.budgets = new PostgresBudgets(this.sql);
    this.prices = new PostgresPrices(this.sql, (work) => this.transaction(work));
    this.replays = new PostgresReplays(this.sql, (work) => this.transaction(work));
    this.keys = new ApiKeyRecords(this.sql);
  }

  /** Connects, brings the schema up to date, and returns the store. */
  static async open(options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const { pg, pool } = await openPool(options);
    const notify = options.notify ?? true;
    const store = new PostgresStore(pool, notify ? changeChannel(options.schema) : null);
    try {
      // A schema that held requests before the rollups existed gets them filled, once.
      await store.transaction((sql) => new PostgresRollups(sql).rebuildIfPending());
    } catch (error) {
      await pool.end();
      throw error;
    }
    if (store.channel !== null) await store.remote.listen(pg, options, store.channel);
    return store;
  }

  /**
   * Calls `listener` with the changes other stores (other servers) on this schema commit,
   * as PostgreSQL delivers their notifications. Returns the unsubscribe function.
   */
  onRemoteChanges(listener: (changes: ChangeEvent[]) => void): () => void {
    return this.remote.onChanges(listener);
  }

  /**
   * Calls `listener` when the LISTEN connection is back after it dropped: changes other
   * stores committed in between were not heard (see `Store.onRemoteGap`).
   */
  onRemoteGap(listener: (gap: RemoteGap) => void): () => void {
    return this.remote.onGap(listener);
  }

  async apply(
    ops: readonly AnyOp[],
    options: { dedupe?: boolean; changes?: boolean } = {},
  ): Promise<OpResult[]> {
    // Over a network a commit can succeed while its answer is lost (a connection cut after
    // COMMIT). The tracker then keeps the batch in its outbox and replays it, so every op's
    // id is recorded here: the replay of an op that did land is skipped, never applied twice.
    // So `options.dedupe` cannot turn it off here (the contract allows a driver to dedupe
    // more than asked: a duplicate is answered as one, never applied twice).
    const dedupe = true;
    // Other servers may have live subscribers: with notifications on, changes are always
    // recorded and published, and returned in the results only when asked for.
    const changes = (options.changes ?? false) || this.channel !== null;
    for (let attempt = 1; ; attempt++) {
      try {
        // Fast path: the writer reports domain errors before writing anything, so ops run
        // straight in the batch transaction. An unexpected error aborts the transaction; then
        // the batch runs again with a savepoint per op, so that the failing op leaves nothing
        // behind while the others commit. (A savepoint per op costs a round trip per op.)
        try {
          const results = await this.transaction((sql) =>
            applyBatch(sql, ops, this.batchOptions(dedupe, changes, false)),
          );
          return options.changes ? results : results.map(withoutChanges);
        } catch (error) {
          if (this.isUnavailable(error) || isRetryable(error)) throw error;
          const results = await this.transaction((sql) =>
            applyBatch(sql, ops, this.batchOptions(dedupe, changes, true)),
          );
          return options.changes ? results : results.map(withoutChanges);
        }
      } catch (error) {
        if (!isRetryable(error) || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }

  /** The notifications that publish the batch's changes to other servers, if any listen. */
  private notification(results: readonly OpResult[]) {
    return this.channel === null
      ? undefined
      : { channel: this.channel, payloads: changePayloads(this.remote.origin, results) };
  }

  private batchOptions(dedupe: boolean, changes: boolean, savepoints: boolean): BatchOptions {
    return {
      dedupe,
      changes,
      savepoints,
      notification: (results) => this.notification(results),
      isUnavailable: (error) => this.isUnavailable(error),
    };
  }

  /**
   * Runs `work` in one transaction on one pooled connection. Writes run at READ COMMITTED,
   * which `SKIP LOCKED` and the writer's row locks are built for; reads that must agree with
   * each other ask for one `snapshot`.
   */
  private async transaction<T>(
    work: (sql: Sql) => Promise<T>,
    mode: "write" | "snapshot" = "write",
  ): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    // A connection cut while checked out (pg_terminate_backend, a failover) emits "error" on
    // the client; without a listener that would crash the process. The failing query reports
    // it; the pool then drops the connection.
    const onError = (error: Error) => {
      broken = error;
    };
    client.on("error", onError);
    try {
      await client.query(mode === "snapshot" ? BEGIN_SNAPSHOT : BEGIN_WRITE);
      const result = await work(new Sql(client));
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch((rollbackError: unknown) => {
        broken = rollbackError as Error;
      });
      throw error;
    } finally {
      // A connection whose rollback failed is in an unknown state: the pool drops it.
      client.off("error", onError);
      client.release(broken);
    }
  }

  queueDepth(tenantId?: string): Promise<Record<Lane, number>> {
    return queueDepth(this.sql, tenantId);
  }

  pruneAppliedOps(olderThan: number): Promise<number> {
    return pruneAppliedOps(this.sql, olderThan);
  }

  purge(olderThan: number, batchSize = 1000): Promise<PurgeCounts> {
    return purge((work) => this.transaction(work), olderThan, batchSize);
  }

  async getRequest(
    id: string,
    options: { includeDeleted?: boolean } = {},
  ): Promise<Request | null> {
    // One statement, so one snapshot and one round trip, for the row, its stages and its
    // costs (json_agg keeps the columns' JSON: numbers, jsonb as objects, as rows would).
    const row = await this.sql.row<RequestRow & { stage_rows: StageRow[]; cost_rows: CostRow[] }>(
      `SELECT r.*,
        (SELECT coalesce(json_agg(s ORDER BY s.started_at, s.attempt, s.name), '[]')
          FROM stages s WHERE s.request_id = r.id) AS stage_rows,
        (SELECT coalesce(json_agg(c ORDER BY c.id), '[]')
          FROM costs c WHERE c.request_id = r.id) AS cost_rows
      FROM requests r WHERE r.id = $1${options.includeDeleted ? "" : " AND r.deleted_at IS NULL"}`,
      [id],
    );
    if (!row) return null;
    const { stage_rows: stages, cost_rows: costs, ...request } = row;
    return { ...toRequestRecord(request), stages: stages.map(toStage), costs: costs.map(toCost) };
  }

  async changeStamp(): Promise<null> {
    // Other servers write to the same database without telling this one: no cheap stamp.
    return null;
  }

  async schemaVersion(): Promise<number> {
    const row = await this.sql.row<{ version: number | string | null }>(
      "SELECT max(version) AS version FROM schema_migrations",
    );
    return Number(row?.version ?? 0);
  }

  async getScope(id: string): Promise<RequestScope | null> {
    const scope = await this.sql.row<RequestScope>(
      `SELECT status, tenant_id AS "tenantId", kind FROM requests
      WHERE id = $1 AND deleted_at IS NULL`,
      [id],
    );
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
    const rows = await this.sql.rows<EventRow>(
      "SELECT * FROM events WHERE request_id = $1 ORDER BY id",
      [id],
    );
    return rows.map((row, i) => toEvent(row, i + 1));
  }

  async listRequests(filter: RequestFilter): Promise<Page<RequestRecord>> {
    const {
      count: countWhere,
      page: where,
      params,
      countParams,
    } = requestListWhere(filter, {
      placeholder: (n) => `$${n}`,
      // One value as `=`, so an index on (column, created_at, id) gives the page its order.
      oneOf: (column, values, param) =>
        values.length === 1
          ? `${column} = ${param(values[0])}`
          : `${column} = ANY(${param(values)}::text[])`,
      // ILIKE, so case-insensitive like SQLite's LIKE.
      // The expression of the pg_trgm index of migration 20 (prompt-search.ts), as written.
      promptContains: (text, param) => `coalesce(initial_message, CASE WHEN input IS NOT NULL
        AND jsonb_typeof(input::jsonb -> 'prompt') = 'string'
        THEN input::jsonb ->> 'prompt' END) ILIKE ${param(containsPattern(text))} ESCAPE '\\'`,
    });
    const countValues = params.slice(0, countParams);
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    // The total from the rollups or a capped count (postgres-list-count.ts), beside the page.
    const [{ total, exact }, rows] = await Promise.all([
      this.listCount.total(filter, clause(countWhere), countValues),
      this.sql.rows<RequestRow>(
        `SELECT * FROM requests${clause(where)} ORDER BY created_at DESC, id DESC
        LIMIT ${param(filter.limit)} OFFSET ${param(filter.offset)}`,
        params,
      ),
    ]);
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
    const tenant = tenantId === undefined ? "" : "AND r.tenant_id = $2";
    return this.sql.rows<CostSplit>(
      `SELECT c.request_id AS "requestId", c.service,
        sum(c.amount_micros)::int8 AS "amountMicros", count(*)::int8 AS records
      FROM costs c JOIN requests r ON r.id = c.request_id
      WHERE c.request_id = ANY($1::text[]) AND r.deleted_at IS NULL ${tenant}
      GROUP BY c.request_id, c.service
      ORDER BY c.request_id, "amountMicros" DESC, c.service`,
      tenantId === undefined ? [requestIds] : [requestIds, tenantId],
    );
  }

  isUnavailable(error: unknown): boolean {
    return isPostgresUnavailable(error);
  }

  async close(): Promise<void> {
    await this.remote.close();
    if (!this.pool.ended) await this.pool.end();
  }
}

function clause(where: string[]): string {
  return where.length > 0 ? ` WHERE ${where.join(" AND ")}` : "";
}
