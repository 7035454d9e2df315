import { randomUUID } from "node:crypto";
import type * as Pg from "pg";
import { ValidationError } from "../../core/errors.js";
import {
  type AnyOp,
  type ChangeEvent,
  type ClaimOp,
  isQueueOp,
  type Op,
  type OpResult,
  type QueueOp,
} from "../../core/ops.js";
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
import { POSTGRES_MIGRATIONS } from "../migrations/postgres.js";
import {
  type ApiKeyRow,
  type CostRow,
  type EventRow,
  type RequestRow,
  type StageRow,
  toApiKey,
  toCost,
  toEvent,
  toRequestRecord,
  toStage,
} from "../rows.js";
import {
  containsPattern,
  decodeCursor,
  encodeCursor,
  type PurgeCounts,
  type RemoteGap,
  type Store,
} from "../store.js";
import { createPool, ensureSchema, loadPg, Sql } from "./pg-connection.js";
import { isPostgresUnavailable, isRetryable } from "./postgres-errors.js";
import { migratePostgres } from "./postgres-migrate.js";
import { ChangeListener, changeChannel, changePayloads } from "./postgres-notify.js";
import { PostgresAnalytics } from "./postgres-analytics.js";
import { PostgresBudgets } from "./postgres-budgets.js";
import { PostgresPrices } from "./postgres-prices.js";
import { PostgresReplays } from "./postgres-replays.js";
import { PostgresQueue } from "./postgres-queue.js";
import { PostgresRollups } from "./postgres-rollups.js";
import { PostgresWriter } from "./postgres-writer.js";

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:5432/database`; libpq's PG* variables fill in the rest. */
  connectionString?: string;
  /**
   * Schema for reqtrack's tables (the connections' search_path), created when missing.
   * Default: the server's search_path (usually "public").
   */
  schema?: string;
  /** Most pooled connections this store opens (the LISTEN connection comes on top). Default 10. */
  maxConnections?: number;
  /**
   * false: send every statement unnamed instead of as a named prepared statement, for
   * pgbouncer in transaction mode before 1.21 (or without `max_prepared_statements`), where
   * named statements fail. Each statement is then planned on every call. Default true.
   */
  preparedStatements?: boolean;
  /**
   * Where the LISTEN connection goes when it must not take `connectionString`'s way: a direct
   * connection to PostgreSQL when the pool goes through pgbouncer in transaction mode, which
   * cannot carry LISTEN. Default: `connectionString`.
   */
  listenConnectionString?: string;
  /** Clock for migration bookkeeping and the times of LISTEN gaps (`onRemoteGap`). */
  now?: () => number;
  /**
   * Publish every committed change with NOTIFY and LISTEN for other servers' changes
   * (`onRemoteChanges`, `onRemoteGap`), on one extra connection outside the pool. Default true.
   */
  notify?: boolean;
}

/** True for a `postgres://` or `postgresql://` connection string (a storage that is no file). */
export function isPostgresUrl(storage: string): boolean {
  return /^postgres(ql)?:\/\//i.test(storage);
}

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
  /** Stats and cost reports, from rollups kept in the write transactions. */
  readonly analytics: PostgresAnalytics;
  readonly budgets: PostgresBudgets;
  readonly prices: PostgresPrices;
  readonly replays: PostgresReplays;
  /** This store instance, so that it does not hear its own notifications. */
  private readonly origin = randomUUID();
  private readonly remoteListeners = new Set<(changes: ChangeEvent[]) => void>();
  private readonly gapListeners = new Set<(gap: RemoteGap) => void>();
  private listener: ChangeListener | null = null;

  private constructor(
    private readonly pool: Pg.Pool,
    /** The NOTIFY channel of this schema; null when notifications are off. */
    private readonly channel: string | null,
  ) {
    this.sql = new Sql(pool);
    this.analytics = new PostgresAnalytics(this.sql);
    this.budgets = new PostgresBudgets(this.sql);
    this.prices = new PostgresPrices(this.sql, (work) => this.transaction(work));
    this.replays = new PostgresReplays(this.sql, (work) => this.transaction(work));
  }

  /** Connects, brings the schema up to date, and returns the store. */
  static async open(options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const pg = await loadPg();
    const config: Pg.PoolConfig = { max: options.maxConnections ?? 10 };
    if (options.connectionString !== undefined) config.connectionString = options.connectionString;
    if (options.schema !== undefined) {
      config.options = `-c search_path=${pg.escapeIdentifier(options.schema)}`;
    }
    const pool = createPool(pg, config, { preparedStatements: options.preparedStatements ?? true });
    // An idle connection that dies (server restart) must not crash the process; the next
    // query gets a fresh connection or reports the store unavailable.
    pool.on("error", () => {});
    try {
      if (options.schema !== undefined) await ensureSchema(pg, pool, options.schema);
      await migratePostgres(pool, POSTGRES_MIGRATIONS, (options.now ?? Date.now)());
    } catch (error) {
      await pool.end();
      throw error;
    }
    const notify = options.notify ?? true;
    const store = new PostgresStore(pool, notify ? changeChannel(options.schema) : null);
    try {
      // A schema that held requests before the rollups existed gets them filled, once.
      await store.transaction((sql) => new PostgresRollups(sql).rebuildIfPending());
    } catch (error) {
      await pool.end();
      throw error;
    }
    if (store.channel !== null) {
      const listenConfig: Pg.ClientConfig = { keepAlive: true };
      const listenUrl = options.listenConnectionString ?? options.connectionString;
      if (listenUrl !== undefined) listenConfig.connectionString = listenUrl;
      // A failing listener must not break the LISTEN connection or the other listeners.
      const callEach = <T>(listeners: Set<(value: T) => void>, value: T) => {
        for (const listener of listeners) {
          try {
            listener(value);
          } catch {
            // see above
          }
        }
      };
      store.listener = new ChangeListener({
        pg,
        config: listenConfig,
        channel: store.channel,
        origin: store.origin,
        now: options.now ?? Date.now,
        deliver: (changes) => callEach(store.remoteListeners, changes),
        onGap: (gap) => callEach(store.gapListeners, gap),
      });
      // Listening before open() returns: a change committed afterwards is heard. When it
      // cannot connect now, it keeps retrying in the background.
      await store.listener.start();
    }
    return store;
  }

  /**
   * Calls `listener` with the changes other stores (other servers) on this schema commit,
   * as PostgreSQL delivers their notifications. Returns the unsubscribe function.
   */
  onRemoteChanges(listener: (changes: ChangeEvent[]) => void): () => void {
    this.remoteListeners.add(listener);
    return () => this.remoteListeners.delete(listener);
  }

  /**
   * Calls `listener` when the LISTEN connection is back after it dropped: changes other
   * stores committed in between were not heard (see `Store.onRemoteGap`).
   */
  onRemoteGap(listener: (gap: RemoteGap) => void): () => void {
    this.gapListeners.add(listener);
    return () => this.gapListeners.delete(listener);
  }

  async apply(
    ops: readonly AnyOp[],
    options: { dedupe?: boolean; changes?: boolean } = {},
  ): Promise<OpResult[]> {
    // Over a network a commit can succeed while its answer is lost (a connection cut after
    // COMMIT). The tracker then keeps the batch in its outbox and replays it, so every op's
    // id is recorded here: the replay of an op that did land is skipped, never applied twice.
    const dedupe = true;
    void options.dedupe;
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
            this.applyAll(sql, ops, dedupe, changes, false),
          );
          return options.changes ? results : results.map(withoutChanges);
        } catch (error) {
          if (this.isUnavailable(error) || isRetryable(error)) throw error;
          const results = await this.transaction((sql) =>
            this.applyAll(sql, ops, dedupe, changes, true),
          );
          return options.changes ? results : results.map(withoutChanges);
        }
      } catch (error) {
        if (!isRetryable(error) || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * Applies the batch set-wise: the op ids in one statement, then runs of ordinary ops, each
   * run planned in memory and written with one statement per table (see PostgresWriter).
   * Queue ops are about the rows as they are now, so each one runs on its own, after the
   * run before it was written.
   */
  private async applyAll(
    sql: Sql,
    ops: readonly AnyOp[],
    dedupe: boolean,
    changes: boolean,
    savepoints: boolean,
  ): Promise<OpResult[]> {
    const writer = new PostgresWriter(sql, changes);
    const queue = new PostgresQueue(sql, writer);
    if (savepoints) {
      const results = await this.applyEach(sql, writer, queue, ops, dedupe);
      await writer.write(this.notification(results));
      return results;
    }
    const marked = ops.filter((op): op is Op => !isQueueOp(op) && (dedupe || op.dedupe === true));
    const fresh = await writer.markApplied(marked);
    const results: OpResult[] = [];
    let run: { index: number; op: Op }[] = [];
    const writeRun = async () => {
      if (run.length === 0) return;
      const answers = await writer.apply(run.map((entry) => entry.op));
      run.forEach((entry, i) => {
        results[entry.index] = answers[i] as OpResult;
      });
      writer.takeChanges(); // already in the answers
      run = [];
    };
    const claims: number[] = [];
    for (const [index, op] of ops.entries()) {
      if (op.type === "claim") {
        claims.push(index);
      } else if (isQueueOp(op)) {
        await writeRun();
        results[index] = await this.applyQueueOp(writer, queue, op);
      } else if ((dedupe || op.dedupe) && !fresh.delete(op.opId)) {
        results[index] = { ok: true, duplicate: true };
      } else {
        run.push({ index, op });
      }
    }
    await writeRun();
    // The batch's claims together, last: as if they had come a moment later, after the
    // batch's other ops (workers claiming together share statements; PostgresQueue.claimAll).
    if (claims.length > 0) {
      const answers = await queue.claimAll(claims.map((index) => ops[index] as ClaimOp));
      answers.forEach(({ request, changes }, i) => {
        const result: OpResult = { ok: true, queue: { type: "claim", request } };
        results[claims[i] as number] = changes?.length ? { ...result, changes } : result;
      });
      writer.takeChanges(); // already in the answers
    }
    // A refused op changed nothing: forget its id, so a resend is judged again (and answered
    // with its error) instead of passing as an applied duplicate.
    const refused = ops.flatMap((op, i) =>
      !isQueueOp(op) && (dedupe || op.dedupe) && !(results[i] as OpResult).ok ? [op.opId] : [],
    );
    await writer.unmarkApplied(refused);
    // The rows, the rollups (which change in the same transaction as the rows they
    // summarize) and the NOTIFYs (delivered on commit) in one statement.
    await writer.write(this.notification(results));
    return results;
  }

  /** The fallback after an unexpected error: op by op, each in a savepoint. */
  private async applyEach(
    sql: Sql,
    writer: PostgresWriter,
    queue: PostgresQueue,
    ops: readonly AnyOp[],
    dedupe: boolean,
  ): Promise<OpResult[]> {
    const results: OpResult[] = [];
    for (const op of ops) {
      await sql.exec("SAVEPOINT reqtrack_op");
      try {
        let result: OpResult;
        if (isQueueOp(op)) {
          result = await this.applyQueueOp(writer, queue, op);
        } else if ((dedupe || op.dedupe) && (await writer.markApplied([op])).size === 0) {
          result = { ok: true, duplicate: true };
        } else {
          result = (await writer.apply([op]))[0] as OpResult;
          if (!result.ok && (dedupe || op.dedupe)) await writer.unmarkApplied([op.opId]);
        }
        // The op's rows and rollup deltas go in with it, so rolling it back takes them back.
        await writer.write();
        await sql.exec("RELEASE SAVEPOINT reqtrack_op");
        results.push(result);
      } catch (error) {
        writer.discard();
        if (this.isUnavailable(error) || isRetryable(error)) throw error;
        await sql.exec("ROLLBACK TO SAVEPOINT reqtrack_op");
        results.push({ ok: false, error: error as Error });
      }
    }
    return results;
  }

  /** The notifications that publish the batch's changes to other servers, if any listen. */
  private notification(results: readonly OpResult[]) {
    return this.channel === null
      ? undefined
      : { channel: this.channel, payloads: changePayloads(this.origin, results) };
  }

  /** A queue op, with the changes its transitions made. */
  private async applyQueueOp(
    writer: PostgresWriter,
    queue: PostgresQueue,
    op: QueueOp,
  ): Promise<OpResult> {
    await writer.write(); // the queue reads the rows as the ops before it left them
    writer.takeChanges();
    const result: OpResult = { ok: true, queue: await queue.apply(op) };
    await writer.release(); // its statements may have changed rows the batch holds
    const changed = writer.takeChanges();
    return changed.length > 0 ? { ...result, changes: changed } : result;
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

  async queueDepth(tenantId?: string): Promise<Record<Lane, number>> {
    const byTenant = tenantId === undefined ? "" : "AND tenant_id = $1";
    const rows = await this.sql.rows<{ lane: Lane; n: number }>(
      `SELECT lane, count(*) AS n FROM requests
      WHERE status = 'pending' AND deleted_at IS NULL ${byTenant} GROUP BY lane`,
      tenantId === undefined ? [] : [tenantId],
    );
    const depth: Record<Lane, number> = { high: 0, normal: 0, low: 0 };
    for (const row of rows) depth[row.lane] = row.n;
    return depth;
  }

  async pruneAppliedOps(olderThan: number): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.sql.run(
        `DELETE FROM applied_ops WHERE op_id IN
        (SELECT op_id FROM applied_ops WHERE applied_at < $1 LIMIT 5000)`,
        [olderThan],
      );
      total += n;
      if (n === 0) return total;
    }
  }

  async purge(olderThan: number, batchSize = 1000): Promise<PurgeCounts> {
    const counts: PurgeCounts = { requests: 0, stages: 0, events: 0, costs: 0 };
    for (;;) {
      const done = await this.transaction(async (sql) => {
        // SKIP LOCKED: rows a writer holds right now are purged by a later batch or run.
        const ids = (
          await sql.rows<{ id: string }>(
            "SELECT id FROM requests WHERE created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED",
            [olderThan, batchSize],
          )
        ).map((row) => row.id);
        if (ids.length === 0) return true;
        const rollups = new PostgresRollups(sql);
        await rollups.forget(ids);
        await rollups.flush();
        const inIds = "= ANY($1::text[])";
        counts.stages += await sql.run(`DELETE FROM stages WHERE request_id ${inIds}`, [ids]);
        counts.events += await sql.run(`DELETE FROM events WHERE request_id ${inIds}`, [ids]);
        counts.costs += await sql.run(`DELETE FROM costs WHERE request_id ${inIds}`, [ids]);
        await sql.run(`DELETE FROM request_tags WHERE request_id ${inIds}`, [ids]);
        counts.requests += await sql.run(`DELETE FROM requests WHERE id ${inIds}`, [ids]);
        return ids.length < batchSize;
      });
      if (done) return counts;
    }
  }

  async getRequest(
    id: string,
    options: { includeDeleted?: boolean } = {},
  ): Promise<Request | null> {
    // One snapshot for the row, its stages and its costs.
    return this.transaction(async (sql) => {
      const row = await sql.row<RequestRow>(
        options.includeDeleted
          ? "SELECT * FROM requests WHERE id = $1"
          : "SELECT * FROM requests WHERE id = $1 AND deleted_at IS NULL",
        [id],
      );
      if (!row) return null;
      const stages = await sql.rows<StageRow>(
        "SELECT * FROM stages WHERE request_id = $1 ORDER BY started_at, attempt, name",
        [id],
      );
      const costs = await sql.rows<CostRow>(
        "SELECT * FROM costs WHERE request_id = $1 ORDER BY id",
        [id],
      );
      return { ...toRequestRecord(row), stages: stages.map(toStage), costs: costs.map(toCost) };
    }, "snapshot");
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

  async saveApiKey(key: ApiKey & { hash: string }): Promise<void> {
    await this.sql.run(
      `INSERT INTO api_keys (id, name, hash, role, tenant_id, created_at, revoked_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        key.id,
        key.name,
        key.hash,
        key.role,
        key.tenantId,
        key.createdAt.getTime(),
        key.revokedAt?.getTime() ?? null,
      ],
    );
  }

  async findApiKey(hash: string): Promise<ApiKey | null> {
    const row = await this.sql.row<ApiKeyRow>("SELECT * FROM api_keys WHERE hash = $1", [hash]);
    return row ? toApiKey(row) : null;
  }

  async listApiKeys(): Promise<ApiKey[]> {
    const rows = await this.sql.rows<ApiKeyRow>("SELECT * FROM api_keys ORDER BY created_at, id");
    return rows.map(toApiKey);
  }

  async revokeApiKey(id: string, at: number): Promise<boolean> {
    const changed = await this.sql.run(
      "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
      [at, id],
    );
    return changed === 1;
  }

  async getEvents(id: string): Promise<RequestEvent[]> {
    const rows = await this.sql.rows<EventRow>(
      "SELECT * FROM events WHERE request_id = $1 ORDER BY id",
      [id],
    );
    return rows.map((row, i) => toEvent(row, i + 1));
  }

  async listRequests(filter: RequestFilter): Promise<Page<RequestRecord>> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (!filter.includeDeleted) where.push("deleted_at IS NULL");
    if (filter.status !== undefined) {
      const statuses = Array.isArray(filter.status) ? filter.status : [filter.status];
      where.push(`status = ANY(${param(statuses)}::text[])`);
    }
    const equal: [keyof RequestFilter, string][] = [
      ["userId", "user_id"],
      ["tenantId", "tenant_id"],
      ["channelId", "channel_id"],
      ["sessionId", "session_id"],
      ["kind", "kind"],
      ["parentId", "parent_id"],
      ["source", "source"],
    ];
    for (const [key, column] of equal) {
      if (filter[key] !== undefined) where.push(`${column} = ${param(filter[key])}`);
    }
    if (filter.tag !== undefined) {
      where.push(`id IN (SELECT request_id FROM request_tags WHERE tag = ${param(filter.tag)})`);
    }
    if (filter.prompt !== undefined) {
      // The tracker's rule for "the prompt" (as in promptCounts): initialMessage, else a
      // string input.prompt; ILIKE, so case-insensitive like SQLite's LIKE.
      where.push(`coalesce(initial_message, CASE WHEN input IS NOT NULL
        AND jsonb_typeof(input::jsonb -> 'prompt') = 'string'
        THEN input::jsonb ->> 'prompt' END) ILIKE ${param(containsPattern(filter.prompt))} ESCAPE '\\'`);
    }
    if (filter.from !== undefined) where.push(`created_at >= ${param(filter.from.getTime())}`);
    if (filter.to !== undefined) where.push(`created_at < ${param(filter.to.getTime())}`);
    const countWhere = [...where];

    if (filter.cursor !== undefined) {
      const position = decodeCursor(filter.cursor);
      if (!position) throw new ValidationError("cursor", "is not a cursor this server issued");
      // A row comparison, so PostgreSQL seeks straight to the cursor in a (…, created_at, id)
      // index: page 1,000 costs what page 1 does.
      where.push(`(created_at, id) < (${param(position.createdAt)}, ${param(position.id)})`);
    }
    // The total and the page in one statement, so one snapshot and one round trip: a row
    // with the total even when the page is empty (then its request columns are null).
    const found = await this.sql.rows<RequestRow & { total: number }>(
      `SELECT c.total, p.* FROM (SELECT count(*) AS total FROM requests${clause(countWhere)}) c
      LEFT JOIN LATERAL (SELECT * FROM requests${clause(where)}
        ORDER BY created_at DESC, id DESC
        LIMIT ${param(filter.limit)} OFFSET ${param(filter.offset)}) p ON true`,
      params,
    );
    const total = found[0]?.total ?? 0;
    const rows = found.filter((row) => row.id !== null);
    const last = rows.at(-1);
    const more = last !== undefined && rows.length === filter.limit;
    return {
      items: rows.map(toRequestRecord),
      total,
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
    this.remoteListeners.clear();
    this.gapListeners.clear();
    await this.listener?.close();
    if (!this.pool.ended) await this.pool.end();
  }
}

function withoutChanges(result: OpResult): OpResult {
  if (!result.ok || result.changes === undefined) return result;
  const { changes: _changes, ...rest } = result;
  return rest;
}

function clause(where: string[]): string {
  return where.length > 0 ? ` WHERE ${where.join(" AND ")}` : "";
}
