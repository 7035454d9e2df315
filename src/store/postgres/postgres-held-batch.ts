import { toJsonText } from "../../core/json.js";
import type { LifecycleState } from "../../core/lifecycle.js";
import type { CostOp, Op, RequeueOp } from "../../core/ops.js";
import { writeLifecycle } from "../../core/request-fields.js";
import { activeStageOf, type EventRow } from "../../core/stage-lifecycle.js";
import type { RequestStatus } from "../../core/types.js";
import type { RequestRow } from "../rows.js";
import {
  ANNOTATE_REQUESTS,
  ANNOTATED_COLUMNS,
  CONTEXT_COLUMNS,
  CONTEXT_REQUESTS,
  INSERT_COLUMNS,
  MUTABLE_COLUMNS,
  type Row,
  STAGE_COLUMNS,
  WRITE_BATCH,
} from "./postgres-batch-sql.js";
import type { Sql } from "./pg-connection.js";
import { type DimsRow, PostgresRollups, transpose } from "./postgres-rollups.js";

/** A request as the batch holds it: its row, whether it is new, whether it changed. */
export interface HeldRequest {
  row: Row;
  isNew: boolean;
  dirty: boolean;
  /** Annotated (intent, entities, tags, input changed): written by ANNOTATE_REQUESTS. */
  annotated?: boolean;
  /** Its tenant, session or user changed: written by CONTEXT_REQUESTS. */
  contexted?: boolean;
  /** Its stage runs, loaded when an op of the batch needs them. */
  stages?: HeldStage[];
}

export interface HeldStage {
  name: string;
  attempt: number;
  status: string;
  startedAt: number;
  completedAt: number | null;
  durationMs: number | null;
  output: string | null;
  errorMessage: string | null;
  errorDetails: string | null;
  retryable: boolean | null;
  isNew: boolean;
  dirty: boolean;
}

/** What one batch writes, gathered while its ops are planned. */
interface Writes {
  events: [string, number, EventRow][];
  costs: CostOp[];
  tags: [string, string][];
}

/**
 * The requests a PostgreSQL batch holds: read and locked once (`load`), changed in memory by
 * the writer's ops, and written back in one statement (`write`).
 */
export class PostgresHeldBatch {
  protected held = new Map<string, HeldRequest>();
  protected writes: Writes = { events: [], costs: [], tags: [] };

  constructor(
    protected readonly sql: Sql,
    /** The batch's rollup deltas: every change reports its part (see postgres-rollups.ts). */
    readonly rollups: PostgresRollups = new PostgresRollups(sql),
  ) {}

  /** The row of a request the last `apply` read or created, as this batch left it. */
  heldRow(id: string): RequestRow | undefined {
    return this.held.get(id)?.row;
  }

  /** Drops what was applied and not yet written (its savepoint was rolled back). */
  discard(): void {
    this.held = new Map();
    this.writes = { events: [], costs: [], tags: [] };
    this.rollups.reset();
  }

  /**
   * Takes rows the caller has just read and locked (a claim's pick) as held, so that
   * applying ops to them needs no read. Rows already held are kept as the batch left them.
   */
  hold(rows: readonly RequestRow[]): void {
    for (const row of rows) {
      if (!this.held.has(row.id))
        this.held.set(row.id, { row: row as Row, isNew: false, dirty: false });
    }
  }

  /** The requests changed in memory and not yet written: the table still has them as before. */
  unwrittenIds(): string[] {
    return [...this.held.values()].filter((h) => h.dirty).map((h) => h.row.id);
  }

  /** True when an unwritten change left a request pending (created, retried, given back). */
  hasUnwrittenPending(): boolean {
    for (const held of this.held.values()) {
      if (held.dirty && held.row.status === "pending") return true;
    }
    return false;
  }

  /**
   * Forgets the rows held, after writing what changed: statements that are not the writer's
   * (a heartbeat, the sweep's aging) may change them, so later ops read them again.
   */
  async release(): Promise<void> {
    await this.write();
    this.held = new Map();
  }

  /** Reads and locks the requests the ops touch, and the stages of those that need them. */
  protected async load(ops: readonly (Op | RequeueOp)[]): Promise<void> {
    const ids = new Set<string>();
    const withStages = new Set<string>();
    for (const op of ops) {
      const id = op.type === "create" ? op.request.id : op.requestId;
      const held = this.held.get(id);
      const needsStages =
        op.type === "stage" ||
        op.type === "requeue" ||
        (op.type === "transition" && ending(op.to)) ||
        (op.type === "finished" && ending(op.end.to));
      if (held && (held.stages || !needsStages)) continue;
      ids.add(id);
      if (needsStages) withStages.add(id);
    }
    if (ids.size === 0) return;
    // One read, in id order so that servers locking at once cannot deadlock: the rows, and
    // the stage runs of those that need them (as [name, attempt, status, started_at]).
    const rows = await this.sql.rows<
      Row & { stage_runs: [string, number, string, number][] | null }
    >(
      `SELECT r.*, CASE WHEN r.id = ANY($2::text[]) THEN coalesce((SELECT
        json_agg(json_build_array(s.name, s.attempt, s.status, s.started_at))
        FROM stages s WHERE s.request_id = r.id), '[]') END AS stage_runs
      FROM requests r WHERE r.id = ANY($1::text[]) ORDER BY r.id FOR UPDATE OF r`,
      [[...ids].sort(), [...withStages]],
    );
    for (const { stage_runs: runs, ...row } of rows) {
      const held = this.held.get(row.id);
      const stages = runs?.map(([name, attempt, status, startedAt]): HeldStage => ({
        name,
        attempt,
        status,
        startedAt,
        // Only ends are written back; a loaded stage keeps its other columns as stored.
        completedAt: null,
        durationMs: null,
        output: null,
        errorMessage: null,
        errorDetails: null,
        retryable: null,
        isNew: false,
        dirty: false,
      }));
      // A row held already is as this batch left it: only its stages are new here.
      if (held) held.stages = stages ?? [];
      else
        this.held.set(row.id, { row, isNew: false, dirty: false, ...(stages ? { stages } : {}) });
    }
  }

  /** The request, unless it does not exist or is soft-deleted. */
  protected live(id: string): HeldRequest | undefined {
    const held = this.held.get(id);
    return held && held.row.deleted_at === null ? held : undefined;
  }

  /** Ends the request's running stages as failed (the request itself stopped running). */
  protected failRunningStages(
    held: HeldRequest,
    at: number,
    message: string | null,
    retryable: boolean,
  ): void {
    const ended: { name: string; durationMs: number }[] = [];
    for (const stage of held.stages ?? []) {
      if (stage.status !== "running") continue;
      Object.assign(stage, {
        status: "failed",
        completedAt: at,
        durationMs: at - stage.startedAt,
        errorMessage: message,
        retryable,
        dirty: true,
      });
      ended.push({ name: stage.name, durationMs: at - stage.startedAt });
    }
    this.rollups.stagesEnded(dimsOf(held.row), "failed", ended);
  }

  /** Writes `next` into the held row. */
  protected store(held: HeldRequest, next: LifecycleState, at: number): void {
    writeLifecycle(held.row, next).updated_at = at;
    held.dirty = true;
  }

  /**
   * Writes what the ops applied since the last write changed, the batch's rollup deltas and,
   * when given, its notifications: all in one statement (see WRITE_BATCH), so a batch's
   * writes cost one round trip.
   */
  async write(notify?: { channel: string; payloads: string[] }): Promise<void> {
    const created: Row[] = [];
    const changed: Row[] = [];
    const newStages: unknown[][] = [];
    const endedStages: unknown[][] = [];
    const annotated: Row[] = [];
    const contexted: Row[] = [];
    for (const held of this.held.values()) {
      if (held.dirty) (held.isNew ? created : changed).push(held.row);
      if (held.annotated && !held.isNew) annotated.push(held.row);
      if (held.contexted && !held.isNew) contexted.push(held.row);
      held.annotated = false;
      held.contexted = false;
      held.dirty = false;
      held.isNew = false;
      for (const s of held.stages ?? []) {
        if (!s.dirty) continue;
        (s.isNew ? newStages : endedStages).push([
          held.row.id,
          s.name,
          s.attempt,
          s.status,
          s.startedAt,
          s.completedAt,
          s.durationMs,
          s.output,
          s.errorMessage,
          s.errorDetails,
          s.retryable,
        ]);
        s.dirty = false;
        s.isNew = false;
      }
    }
    const { events, costs, tags } = this.writes;
    this.writes = { events: [], costs: [], tags: [] };
    const rollups = this.rollups.takeParams();
    const payloads = notify?.payloads ?? [];
    const nothing =
      created.length + changed.length + newStages.length + endedStages.length === 0 &&
      events.length + costs.length + tags.length + payloads.length === 0 &&
      rollups.every((column) => column.length === 0);
    if (nothing) return;
    const columnsOf = (rows: Row[], columns: readonly string[]) =>
      columns.map((c) => rows.map((row) => (row as unknown as Record<string, unknown>)[c]));
    await this.sql.run(WRITE_BATCH, [
      ...columnsOf(created, INSERT_COLUMNS),
      ...transpose(tags, 2),
      ...columnsOf(changed, ["id", ...MUTABLE_COLUMNS]),
      ...transpose(newStages, STAGE_COLUMNS.length),
      ...transpose(endedStages, STAGE_COLUMNS.length),
      ...transpose(
        events.map(([id, at, e]) => [id, at, e.type, e.stage, e.severity, e.message, e.data]),
        7,
      ),
      ...transpose(
        costs.map((c) => [
          c.requestId,
          c.at,
          c.service,
          c.amountMicros,
          toJsonText(c.usage),
          c.stage,
          c.price ? JSON.stringify(c.price) : null,
        ]),
        7,
      ),
      ...rollups,
      notify?.channel ?? null,
      payloads,
    ]);
    if (annotated.length > 0) {
      await this.sql.run(ANNOTATE_REQUESTS, columnsOf(annotated, ANNOTATED_COLUMNS));
    }
    if (contexted.length > 0) {
      await this.sql.run(CONTEXT_REQUESTS, columnsOf(contexted, CONTEXT_COLUMNS));
    }
  }
}

export function ending(to: RequestStatus): boolean {
  return to === "failed" || to === "timeout" || to === "cancelled";
}

/** The stage a failing run of a held request stopped in (see `activeStageOf`). */
export function heldActiveStage(held: HeldRequest, state: LifecycleState): string | null {
  return activeStageOf(held.stages ?? [], state.startedAt ?? 0);
}

export function dimsOf(row: RequestRow): DimsRow {
  return {
    createdAt: row.created_at,
    tenantId: row.tenant_id,
    kind: row.kind,
    source: row.source,
    sessionId: row.session_id,
  };
}
