import {
  type AnyOp,
  type ClaimOp,
  isQueueOp,
  type Op,
  type OpResult,
  type QueueOp,
} from "../../core/ops.js";
import type { Sql } from "./pg-connection.js";
import { isRetryable } from "./postgres-errors.js";
import { markApplied, unmarkApplied } from "./postgres-housekeeping.js";
import { PostgresQueue } from "./postgres-queue.js";
import { PostgresWriter } from "./postgres-writer.js";

/** How a batch is applied (see PostgresStore.apply). */
export interface BatchOptions {
  /** Record every op's id, so that a replayed op is answered as a duplicate. */
  dedupe: boolean;
  /** Record change events (for the answers and the notifications). */
  changes: boolean;
  /** Op by op, each in a savepoint: the fallback after an unexpected error. */
  savepoints: boolean;
  /** The NOTIFYs that publish the batch's changes, if any. */
  notification: (
    results: readonly OpResult[],
  ) => { channel: string; payloads: string[] } | undefined;
  isUnavailable: (error: unknown) => boolean;
}

/**
 * Applies the batch set-wise: the op ids in one statement, then runs of ordinary ops, each
 * run planned in memory and written with one statement per table (see PostgresWriter).
 * Queue ops are about the rows as they are now, so each one runs on its own, after the
 * run before it was written.
 */
export async function applyBatch(
  sql: Sql,
  ops: readonly AnyOp[],
  { dedupe, changes, savepoints, notification, isUnavailable }: BatchOptions,
): Promise<OpResult[]> {
  const writer = new PostgresWriter(sql, changes);
  const queue = new PostgresQueue(sql, writer);
  if (savepoints) {
    const results = await applyEach(sql, writer, queue, ops, dedupe, isUnavailable);
    await writer.write(notification(results));
    return results;
  }
  const marked = ops.filter((op): op is Op => !isQueueOp(op) && (dedupe || op.dedupe === true));
  const fresh = await markApplied(sql, marked);
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
      results[index] = await applyQueueOp(writer, queue, op);
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
  await unmarkApplied(sql, refused);
  // The rows, the rollups (which change in the same transaction as the rows they
  // summarize) and the NOTIFYs (delivered on commit) in one statement.
  await writer.write(notification(results));
  return results;
}

/** The fallback after an unexpected error: op by op, each in a savepoint. */
async function applyEach(
  sql: Sql,
  writer: PostgresWriter,
  queue: PostgresQueue,
  ops: readonly AnyOp[],
  dedupe: boolean,
  isUnavailable: (error: unknown) => boolean,
): Promise<OpResult[]> {
  const results: OpResult[] = [];
  for (const op of ops) {
    await sql.exec("SAVEPOINT reqtrack_op");
    try {
      let result: OpResult;
      if (isQueueOp(op)) {
        result = await applyQueueOp(writer, queue, op);
      } else if ((dedupe || op.dedupe) && (await markApplied(sql, [op])).size === 0) {
        result = { ok: true, duplicate: true };
      } else {
        result = (await writer.apply([op]))[0] as OpResult;
        if (!result.ok && (dedupe || op.dedupe)) await unmarkApplied(sql, [op.opId]);
      }
      // The op's rows and rollup deltas go in with it, so rolling it back takes them back.
      await writer.write();
      await sql.exec("RELEASE SAVEPOINT reqtrack_op");
      results.push(result);
    } catch (error) {
      writer.discard();
      if (isUnavailable(error) || isRetryable(error)) throw error;
      await sql.exec("ROLLBACK TO SAVEPOINT reqtrack_op");
      results.push({ ok: false, error: error as Error });
    }
  }
  return results;
}

/** A queue op, with the changes its transitions made. */
async function applyQueueOp(
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
