/**
 * Where a queue job's microseconds go on SQLite: the store's own share, measured by applying
 * the ops `work()` sends (a create, a claim, a completion) straight to a SqliteStore in batches
 * of 50, and the statements inside a claim and a completion timed one by one on the same file.
 * Compare with bench/support/profile-queue.ts (the whole tracker) in the same minute. Each
 * line gives wall time and this process's CPU time per job (steadier on a shared machine).
 *
 *   node --import tsx bench/support/queue-micros.ts [jobs]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AnyOp, NewRequest } from "../../src/core/ops.js";
import { newRequestId } from "../../src/core/ids.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";

const jobs = Number(process.argv[2] ?? 20_000);
const BATCH = 50;
const dir = mkdtempSync(join(tmpdir(), "reqtrack-queue-micros-"));
const store = new SqliteStore(join(dir, "q.db"));
// QUEUE_MICROS_PRAGMA="cache_size = -65536" compares a pragma against the store's defaults.
if (process.env.QUEUE_MICROS_PRAGMA) store.db.pragma(process.env.QUEUE_MICROS_PRAGMA);
const T0 = Date.now();
let seq = 0;
const request = (n: number): NewRequest => ({
  id: newRequestId(T0 + n),
  priority: [0.9, 0.5, 0.1][n % 3] as number,
  lane: (["high", "normal", "low"] as const)[n % 3] ?? "normal",
  userId: `user-${n % 500}`,
  channelId: null,
  tenantId: null,
  sessionId: null,
  kind: "bench_job",
  source: null,
  tags: [],
  initialMessage: null,
  input: { n },
  intent: null,
  entities: null,
  parentId: null,
  correlationId: null,
  maxAttempts: 1,
  timeoutMs: 300_000,
  deadlineAt: null,
  createdAt: T0 + n,
});

/** Runs `fn`, prints wall and CPU µs per job, returns CPU µs per job. */
const measure = async (label: string, fn: () => unknown) => {
  const cpu = process.cpuUsage();
  const wall = process.hrtime.bigint();
  await fn();
  const wallMicros = Number(process.hrtime.bigint() - wall) / 1000 / jobs;
  const used = process.cpuUsage(cpu);
  const cpuMicros = (used.user + used.system) / jobs;
  const figure = (n: number) => n.toFixed(1).padStart(6);
  console.log(`${label.padEnd(38)} wall ${figure(wallMicros)}  cpu ${figure(cpuMicros)} µs/job`);
  return cpuMicros;
};
const timed = (label: string, batches: AnyOp[][]) =>
  measure(label, async () => {
    for (const batch of batches) await store.apply(batch);
  });
const inBatches = (make: (n: number) => AnyOp) => {
  const batches: AnyOp[][] = [];
  for (let n = 0; n < jobs; n += BATCH) {
    batches.push(Array.from({ length: Math.min(BATCH, jobs - n) }, (_, i) => make(n + i)));
  }
  return batches;
};

try {
  const ids: string[] = [];
  const create = await timed(
    "store: create (batches of 50)",
    inBatches((n) => {
      const r = request(n);
      ids.push(r.id);
      return { type: "create", opId: `c${++seq}`, at: r.createdAt, request: r };
    }),
  );
  const claimed: string[] = [];
  const claimBatches = inBatches(() => ({
    type: "claim",
    at: T0 + jobs,
    workerId: "w",
    kinds: null,
    leaseMs: 30_000,
  }));
  const claim = await measure("store: claim (batches of 50)", async () => {
    for (const batch of claimBatches) {
      for (const result of await store.apply(batch)) {
        if (result.ok && result.queue?.type === "claim" && result.queue.request) {
          claimed.push(result.queue.request.id);
        }
      }
    }
  });
  if (claimed.length !== jobs) throw new Error(`claimed ${claimed.length} of ${jobs}`);
  const complete = await timed(
    "store: complete (batches of 50)",
    inBatches((n) => ({
      type: "transition",
      opId: `x${++seq}`,
      at: T0 + jobs + 1,
      requestId: claimed[n] as string,
      to: "completed",
      result: null,
    })),
  );
  console.log(
    `${"store: all three".padEnd(38)} ${(create + claim + complete).toFixed(1).padStart(6)} µs/job`,
  );

  // The statements one by one, on fresh rows of the same table (the indexes as they are).
  const db = store.db;
  const more = Array.from({ length: jobs }, (_, n) => request(jobs + n));
  await store.apply(
    more.map((r) => ({ type: "create", opId: `m${++seq}`, at: r.createdAt, request: r })),
  );
  const statement = (label: string, run: (id: string, n: number) => unknown) => {
    const tx = db.transaction((from: number) => {
      for (let n = from; n < Math.min(from + BATCH, jobs); n++) run((more[n] as NewRequest).id, n);
    });
    return measure(`  ${label}`, () => {
      for (let n = 0; n < jobs; n += BATCH) tx.immediate(n);
    });
  };
  const pick = db.prepare(`SELECT id FROM requests WHERE status = 'pending' AND deleted_at IS NULL
    AND lane = ? ORDER BY coalesce(deadline_at, 9007199254740991), created_at LIMIT 1`);
  statement("SELECT the best pending (LIMIT 1)", (_id, n) =>
    pick.get(["high", "normal", "low"][n % 3]),
  );
  const lifecycle = db.prepare("SELECT * FROM requests WHERE id = ?");
  statement("SELECT * by id", (id) => lifecycle.get(id));
  const start = db.prepare(`UPDATE requests SET status = 'running', started_at = ?,
    attempts = attempts + 1, worker_id = 'w', lease_expires_at = ?, lease_ms = 30000,
    updated_at = ? WHERE id = ?`);
  statement("UPDATE pending -> running", (id) => start.run(T0, T0 + 30_000, T0, id));
  const event =
    db.prepare(`INSERT INTO events (request_id, ts, type, stage, severity, message, data)
    VALUES (?, ?, 'status_changed', NULL, 'info', 'pending -> running', NULL)`);
  statement("INSERT status event", (id) => event.run(id, T0));
  const end = db.prepare(`UPDATE requests SET status = 'completed', completed_at = ?,
    duration_ms = 1, lease_expires_at = NULL, updated_at = ? WHERE id = ?`);
  statement("UPDATE running -> completed", (id) => end.run(T0 + 1, T0 + 1, id));
  const costs = db.prepare("SELECT * FROM costs WHERE request_id = ? ORDER BY id");
  statement("SELECT costs by request", (id) => costs.all(id));
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
