import type { Logger } from "../context/logger.js";
import { InvalidTransitionError, StoreUnavailableError } from "../core/errors.js";
import { canTransition } from "../core/lifecycle.js";
import { type AnyOp, type ChangeEvent, isQueueOp, type Op, type OpResult } from "../core/ops.js";
import type { RequestStatus } from "../core/types.js";
import type { Store } from "../store/store.js";
import { Batcher, type PendingOp } from "./batcher.js";
import type { AsideEntry } from "./aside-file.js";
import { type BatchEntry, foldFinishedCalls } from "./finished-calls.js";
import type { Outbox } from "./outbox.js";

/** What a degraded op resolves with: accepted into the outbox, not yet in the store. */
export const DEGRADED: OpResult = Object.freeze({ ok: true, degraded: true });
/** What a queue op resolves with when the store cannot run it: queue ops are never outboxed. */
export const UNAVAILABLE: OpResult = Object.freeze({ ok: true, unavailable: true });

export interface CommitterOptions {
  store: Store;
  outbox: Outbox;
  logger: Logger;
  onStoreError: "degrade" | "throw";
  replayIntervalMs: number;
  /** Called with what each committed batch changed (live updates). */
  onChanges?: (changes: ChangeEvent[]) => void;
  /** Whether anyone listens to changes now; when not, the store skips recording them. */
  wantsChanges?: () => boolean;
}

/**
 * The write path (DESIGN.md "Write path and degraded mode"): group commit through the
 * batcher; when the store cannot be written, ops go to the outbox in order and a timer
 * replays them, deduplicated by op id, once the store is back. While the outbox holds
 * anything, new ops queue behind it so that order is never broken.
 */
export class Committer {
  private readonly batcher: Batcher;
  private readonly store: Store;
  private readonly outbox: Outbox;
  private readonly logger: Logger;
  private readonly options: CommitterOptions;
  /** Status of requests as the outbox will leave them, to refuse invalid transitions while degraded. */
  private readonly degradedStatus = new Map<string, RequestStatus>();
  private timer: NodeJS.Timeout | null = null;

  constructor(options: CommitterOptions) {
    this.options = options;
    this.store = options.store;
    this.outbox = options.outbox;
    this.logger = options.logger;
    this.batcher = new Batcher((batch) => this.commit(batch));
    if (this.outbox.setAsideAtOpen > 0) {
      this.logger.error(
        { set_aside: this.outbox.setAsideAtOpen, aside_path: this.outbox.asidePath },
        "outbox ended in a line cut off by a crash (never acknowledged); kept aside",
      );
    }
    if (this.outbox.size() > 0) {
      this.logger.warn({ pending_ops: this.outbox.size() }, "outbox holds ops from an earlier run");
      this.scheduleReplay(0);
    }
  }

  get degraded(): boolean {
    return this.outbox.size() > 0;
  }

  submit(op: AnyOp): Promise<OpResult> {
    return this.batcher.submit(op);
  }

  flush(): Promise<void> {
    return this.batcher.flush();
  }

  /** One replay attempt now; resolves true when the outbox is empty afterwards. */
  replay(): Promise<boolean> {
    return this.batcher.exclusive(() => this.replayOutbox());
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.batcher.flush();
    if (this.outbox.size() > 0) await this.replay();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.outbox.size() > 0) {
      this.logger.warn(
        { pending_ops: this.outbox.size() },
        "closing with ops still in the outbox; they will be replayed on the next start",
      );
    }
    this.outbox.close();
  }

  private async commit(batch: PendingOp[]): Promise<void> {
    // A call that ended within the batch is written as one op instead of three.
    const entries = foldFinishedCalls(batch);
    if (this.outbox.size() > 0) {
      await this.degrade(entries, null);
      return;
    }
    let results: OpResult[];
    try {
      results = await this.store.apply(
        entries.map((e) => e.op),
        { changes: this.options.wantsChanges?.() ?? false },
      );
    } catch (error) {
      if (this.store.isUnavailable(error) && this.options.onStoreError === "degrade") {
        await this.degrade(entries, error);
        return;
      }
      const wrapped = this.store.isUnavailable(error)
        ? new StoreUnavailableError("The store could not be written", { cause: error })
        : error;
      for (const pending of batch) pending.reject(wrapped);
      return;
    }
    const changes: ChangeEvent[] = [];
    entries.forEach((entry, i) => {
      const result = results[i] as OpResult;
      if (result.ok && result.changes) changes.push(...result.changes);
      answer(entry, result);
    });
    if (changes.length > 0) this.publish(changes);
  }

  private publish(changes: ChangeEvent[]): void {
    try {
      this.options.onChanges?.(changes);
    } catch (error) {
      // A subscriber's bug must not fail a write that is already committed.
      this.logger.error({ err: error }, "change subscriber threw");
    }
  }

  private async degrade(entries: BatchEntry[], cause: unknown): Promise<void> {
    const accepted: BatchEntry[] = [];
    for (const entry of entries) {
      if (isQueueOp(entry.op)) {
        for (const pending of entry.pending) pending.resolve(UNAVAILABLE);
        continue;
      }
      const refusal = await this.checkWhileDegraded(entry.op);
      if (refusal) for (const pending of entry.pending) pending.reject(refusal);
      else accepted.push(entry);
    }
    const waiting = accepted.flatMap((entry) => entry.pending);
    try {
      this.outbox.append(accepted.map((entry) => entry.op as Op));
    } catch (error) {
      // Neither the store nor the outbox can take the ops: the caller must hear of it.
      this.logger.error({ err: error, ops: waiting.length }, "outbox append failed");
      const failure = new StoreUnavailableError(
        "Neither the store nor the outbox could be written",
        {
          cause: error,
        },
      );
      for (const pending of waiting) pending.reject(failure);
      return;
    }
    if (cause !== null) {
      this.logger.error(
        { err: cause, ops: waiting.length, request_ids: requestIds(accepted) },
        "store unavailable; tracking continues in degraded mode (ops kept in the outbox)",
      );
    }
    for (const pending of waiting) pending.resolve(DEGRADED);
    if (accepted.length > 0) this.scheduleReplay(this.options.replayIntervalMs);
  }

  /** Refuses transitions that are invalid even though the store cannot confirm the state. */
  private async checkWhileDegraded(op: Op): Promise<Error | null> {
    if (op.type === "finished") {
      // Created here, so its start and end are valid whatever the store holds.
      this.degradedStatus.set(op.requestId, op.end.to);
      return null;
    }
    if (op.type === "create") {
      this.degradedStatus.set(op.request.id, "pending");
      return null;
    }
    if (op.type !== "transition") return null;
    let from = this.degradedStatus.get(op.requestId) ?? null;
    if (from === null) {
      try {
        from = (await this.store.getScope(op.requestId))?.status ?? null;
      } catch {
        // The store cannot even be read: accept now, let the replay check it.
      }
    }
    if (from !== null && !canTransition(from, op.to)) {
      return new InvalidTransitionError(from, op.to);
    }
    this.degradedStatus.set(op.requestId, op.to);
    return null;
  }

  private scheduleReplay(delayMs: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.replay().then((done) => {
        if (!done) this.scheduleReplay(this.options.replayIntervalMs);
      });
    }, delayMs);
    this.timer.unref();
  }

  private async replayOutbox(): Promise<boolean> {
    if (this.outbox.size() === 0) return true;
    const { ops, corrupt } = this.outbox.read();
    const aside: AsideEntry[] = corrupt.map((line) => ({ reason: "unreadable", line }));
    const chunk = 1000;
    for (let i = 0; i < ops.length; i += chunk) {
      const slice = ops.slice(i, i + chunk);
      let results: OpResult[];
      try {
        results = await this.store.apply(slice, {
          dedupe: true,
          changes: this.options.wantsChanges?.() ?? false,
        });
      } catch (error) {
        this.logger.warn(
          { err: error, pending_ops: ops.length - i },
          "store still unavailable; outbox replay will retry",
        );
        return false;
      }
      this.publish(results.flatMap((result) => (result.ok && result.changes) || []));
      results.forEach((result, j) => {
        if (!result.ok) {
          const op = slice[j] as Op;
          const code = (result.error as { code?: string }).code ?? result.error.name;
          aside.push({ reason: `${code}: ${result.error.message}`, line: JSON.stringify(op) });
          this.logger.warn(
            {
              err: result.error,
              op_type: op.type,
              request_id: "requestId" in op ? op.requestId : op.request.id,
            },
            "outbox op refused by the store on replay; kept aside",
          );
        }
      });
    }
    if (aside.length > 0) {
      let where: string | null;
      try {
        where = this.outbox.setAside(aside);
      } catch (error) {
        // Nowhere to keep them: keep the whole outbox instead (replays skip what is applied).
        this.logger.error({ err: error }, "outbox lines could not be set aside; outbox kept");
        return false;
      }
      this.logger.error(
        { set_aside: aside.length, aside_path: where },
        "outbox lines that cannot be replayed were kept aside; read them there",
      );
    }
    this.outbox.clear();
    this.degradedStatus.clear();
    this.logger.info({ replayed_ops: ops.length }, "outbox replayed; store is writable again");
    return true;
  }
}

function requestIds(entries: BatchEntry[]): string[] {
  const ids = new Set<string>();
  for (const { op } of entries) {
    if (op.type === "create") ids.add(op.request.id);
    else if ("requestId" in op) ids.add(op.requestId);
  }
  return [...ids].slice(0, 20);
}

/** Settles the submitters of one batch entry with the store's answer (a fold's, part by part). */
function answer(entry: BatchEntry, result: OpResult): void {
  const [only] = entry.pending;
  if (entry.pending.length === 1 && only) {
    if (result.ok) only.resolve(result);
    else only.reject(result.error);
    return;
  }
  entry.pending.forEach((pending, k) => {
    const part = result.ok ? (result.parts?.[k] ?? result) : result;
    if (part.ok) pending.resolve(part);
    else pending.reject(part.error);
  });
}
