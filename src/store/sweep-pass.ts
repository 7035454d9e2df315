import { sweepRecord } from "../core/status-records.js";
import type {
  OpResult,
  RequeueOp,
  SweepChange,
  SweepOp,
  SweepResult,
  TransitionOp,
} from "../core/ops.js";
import type { Lane } from "../core/types.js";

/** Which requests a sweep looks for, oldest due first. */
export type DueKind = "run_timeout" | "lease" | "deadline" | "stale";

/**
 * One thing a sweep asks of its driver; the driver answers with its own SQL:
 * `due`: the ids of up to `limit` requests due at `bound` (string[]); `end`: applies the
 * transition (its OpResult); `requeue`: applies it (its SweepChange or null); `promote`:
 * moves pending requests of lane `from` waiting since `bound` up to `to` (how many).
 */
export type SweepStep =
  | { kind: "due"; due: DueKind; bound: number; limit: number }
  | { kind: "end"; op: TransitionOp }
  | { kind: "requeue"; op: RequeueOp }
  | { kind: "promote"; from: Lane; to: Lane; at: number; bound: number };

/**
 * One watchdog pass, the same for every driver: runs past their time limit time out;
 * expired leases go back to the queue (or fail once attempts are used up); pending requests
 * past their deadline time out; pending requests older than `staleAfterMs` are cancelled as
 * stale; starved ones move up a lane. Run timeouts come before leases: a run that is both
 * late and orphaned has timed out, and gets no other attempt from its lease.
 *
 * A generator, so that SQLite can answer its steps synchronously inside its transaction and
 * PostgreSQL asynchronously (see `runSweep`, `runSweepSync`).
 */
export function* sweepPass(op: SweepOp): Generator<SweepStep, SweepResult, unknown> {
  const changes: SweepChange[] = [];
  type Step<T> = Generator<SweepStep, T, unknown>;
  const due = function* (kind: DueKind, bound: number): Step<string[]> {
    return (yield { kind: "due", due: kind, bound, limit: op.limit }) as string[];
  };
  const end = function* (
    requestId: string,
    to: TransitionOp["to"],
    reason: SweepChange["reason"],
    message?: string,
  ): Step<void> {
    const transition: TransitionOp = {
      type: "transition",
      opId: "",
      at: op.at,
      requestId,
      to,
      ...(message ? { error: { message } } : {}),
    };
    const result = (yield { kind: "end", op: transition }) as OpResult;
    const change = sweepRecord(requestId, reason, result);
    if (change) changes.push(change);
  };
  for (const id of yield* due("run_timeout", op.at)) yield* end(id, "timeout", "timeout");
  for (const id of yield* due("lease", op.at)) {
    const requeue: RequeueOp = {
      type: "requeue",
      at: op.at,
      requestId: id,
      workerId: null,
      reason: "lease_expired",
    };
    const change = (yield { kind: "requeue", op: requeue }) as SweepChange | null;
    if (change) changes.push(change);
  }
  for (const id of yield* due("deadline", op.at)) {
    yield* end(id, "timeout", "deadline", "Deadline passed before the request started");
  }
  if (op.staleAfterMs !== null) {
    for (const id of yield* due("stale", op.at - op.staleAfterMs)) {
      yield* end(id, "cancelled", "stale", "stale");
    }
  }
  // normal -> high first, so that one pass never moves a request up two lanes.
  let promoted = 0;
  for (const [from, to] of [
    ["normal", "high"],
    ["low", "normal"],
  ] as const) {
    const wait = op.maxWaitMs[from];
    if (wait === undefined) continue;
    promoted += (yield { kind: "promote", from, to, at: op.at, bound: op.at - wait }) as number;
  }
  return { changes, promoted };
}

/** Runs a sweep whose steps the driver answers at once (inside a synchronous transaction). */
export function runSweepSync(op: SweepOp, answer: (step: SweepStep) => unknown): SweepResult {
  const pass = sweepPass(op);
  let next = pass.next();
  while (!next.done) next = pass.next(answer(next.value));
  return next.value;
}

/** Runs a sweep whose steps the driver answers asynchronously. */
export async function runSweep(
  op: SweepOp,
  answer: (step: SweepStep) => Promise<unknown>,
): Promise<SweepResult> {
  const pass = sweepPass(op);
  let next = pass.next();
  while (!next.done) next = pass.next(await answer(next.value));
  return next.value;
}
