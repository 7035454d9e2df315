import { ValidationError } from "../core/errors.js";
import { nameSchema, parse } from "../core/schemas.js";
import type { Logger } from "../context/logger.js";
import { type WorkHandler, Worker, type WorkerHost, type WorkOptions } from "./worker.js";

/** The tracker's defaults a worker falls back on. */
export interface WorkerDefaults {
  leaseMs: number;
  shutdownGraceMs: number;
}

/**
 * Builds the worker `tracker.work()` returns: checks its options, resolves their defaults
 * (heartbeat at a third of the lease, poll every second) and tells `onStop` when it stopped.
 */
export function startWorker(
  host: WorkerHost,
  defaults: WorkerDefaults,
  options: WorkOptions,
  handler: WorkHandler,
  logger: Logger,
  onStop: (worker: Worker) => void,
): Worker {
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new ValidationError("concurrency", "must be a positive integer");
  }
  const leaseMs = options.leaseMs ?? defaults.leaseMs;
  const worker: Worker = new Worker(
    host,
    {
      concurrency,
      leaseMs,
      heartbeatMs: options.heartbeatMs ?? Math.max(10, Math.floor(leaseMs / 3)),
      pollMs: options.pollMs ?? 1000,
      graceMs: options.graceMs ?? defaults.shutdownGraceMs,
      ...(options.kinds ? { kinds: options.kinds } : {}),
    },
    handler,
    logger,
    options.workerId === undefined ? undefined : parse(nameSchema, options.workerId, "workerId"),
    () => onStop(worker),
  );
  return worker;
}
