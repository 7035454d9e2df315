import {
  type AnyOp,
  type CreateOp,
  type FinishedOp,
  isQueueOp,
  type Op,
  type TransitionOp,
} from "../core/ops.js";
import { TERMINAL_STATUSES } from "../core/types.js";
import type { PendingOp } from "./batcher.js";

/** What the store is given for one or more submitted ops: the op, and whom it answers. */
export interface BatchEntry {
  op: AnyOp;
  /** One submitter; three for a folded call (its create, start and end, in that order). */
  pending: PendingOp[];
}

/** A create waiting for its start and end within the batch. */
interface Candidate {
  create: number;
  start: number | null;
}

/**
 * Folds each call that was created, started and ended within the batch into one
 * `FinishedOp` (the middleware's common case: a handler that answers before the batch
 * commits), placed where its create was. A call folds only when nothing else touches its
 * request in between, no queue op (claim, sweep) could see it in between, and none of its
 * ops is tenant-confined or deduplicated (ops from remote clients keep their own op ids).
 * Everything else goes through unchanged, in order.
 */
export function foldFinishedCalls(batch: readonly PendingOp[]): BatchEntry[] {
  const folds = findFolds(batch);
  if (folds.size === 0) return batch.map((p) => ({ op: p.op, pending: [p] }));
  const skipped = new Set<number>();
  const entries: BatchEntry[] = [];
  batch.forEach((pending, index) => {
    if (skipped.has(index)) return;
    const fold = folds.get(index);
    if (!fold) {
      entries.push({ op: pending.op, pending: [pending] });
      return;
    }
    const [start, end] = fold.map((i) => batch[i] as PendingOp) as [PendingOp, PendingOp];
    fold.forEach((i) => skipped.add(i));
    entries.push({
      op: finishedOp(pending.op as CreateOp, start.op as TransitionOp, end.op as TransitionOp),
      pending: [pending, start, end],
    });
  });
  return entries;
}

/** The folds in the batch: a create's index to the indexes of its start and end. */
function findFolds(batch: readonly PendingOp[]): Map<number, [number, number]> {
  const folds = new Map<number, [number, number]>();
  const open = new Map<string, Candidate>();
  batch.forEach(({ op }, index) => {
    if (isQueueOp(op)) {
      open.clear(); // a claim or sweep between would have seen the call as it was then
      return;
    }
    const id = requestIdOf(op);
    const candidate = open.get(id);
    if (op.type === "create") {
      if (candidate)
        open.delete(id); // a second create of the id: keep both as they are
      else if (foldable(op)) open.set(id, { create: index, start: null });
      return;
    }
    if (!candidate) return;
    if (candidate.start === null && isTransitionTo(op, "running")) {
      candidate.start = index;
    } else if (candidate.start !== null && isEnd(op)) {
      folds.set(candidate.create, [candidate.start, index]);
      open.delete(id);
    } else {
      open.delete(id);
    }
  });
  return folds;
}

function finishedOp(create: CreateOp, start: TransitionOp, end: TransitionOp): FinishedOp {
  return {
    type: "finished",
    opId: create.opId,
    at: create.at,
    requestId: create.request.id,
    create,
    start,
    end,
  };
}

function foldable(op: Op): boolean {
  return op.tenant === undefined && op.dedupe !== true;
}

function isTransitionTo(op: Op, to: "running"): op is TransitionOp {
  return op.type === "transition" && op.to === to && foldable(op);
}

function isEnd(op: Op): op is TransitionOp {
  return op.type === "transition" && TERMINAL_STATUSES.has(op.to) && foldable(op);
}

function requestIdOf(op: Op): string {
  return op.type === "create" ? op.request.id : op.requestId;
}
