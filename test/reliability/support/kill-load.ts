import { expect } from "vitest";
import type { RollupDb, Row } from "../../analytics/rollup-check.js";

/**
 * The load of the SIGKILL test and its ledger: what was sent, what was acknowledged, and, at
 * the end, what the store holds for each. Ingest batches carry op ids, so a batch whose answer
 * was lost is resent whole with the same ids; REST creates carry their own request id, so a
 * resend answers the stored request.
 */

/** One unit of work: an ingest batch of a full lifecycle, or a REST create + start. */
export interface Unit {
  kind: "batch" | "rest";
  seq: number;
  id: string;
  /** Sent at least once without an answer (a kill cut it off). */
  resent: number;
  acked: boolean;
}

const tenant = (seq: number) => `t${seq % 3}`;

/** The ops of batch `seq`: create, start, a stage, an event, a cost, a counter, the end. */
export function batchOps(unit: Unit): unknown[] {
  const { id, seq } = unit;
  const end = seq % 5 === 0 ? "failed" : "completed";
  const ops: Record<string, unknown>[] = [
    {
      type: "create",
      request: {
        id,
        userId: `u${seq % 7}`,
        tenantId: tenant(seq),
        kind: `k${seq % 2}`,
        sessionId: `s${seq % 4}`,
      },
    },
    { type: "transition", requestId: id, to: "running", workerId: "w1" },
    { type: "stage", requestId: id, stage: "render", action: "start" },
    { type: "event", requestId: id, event: { type: "step", data: { seq } } },
    { type: "cost", requestId: id, cost: { service: "openai", amountUsd: 0.001 } },
    { type: "increment", requestId: id, counter: "calls", by: 1 },
    { type: "stage", requestId: id, stage: "render", action: "complete" },
    end === "failed"
      ? { type: "transition", requestId: id, to: "failed", error: "boom" }
      : { type: "transition", requestId: id, to: "completed", result: { seq } },
  ];
  return ops.map((op, j) => ({ opId: `${id}.${j}`, ...op }));
}

/** Sends one unit; resolves true when every part of it was acknowledged. */
export async function send(url: string, headers: Record<string, string>, unit: Unit) {
  const post = (path: string, body: unknown) =>
    fetch(`${url}${path}`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
  if (unit.kind === "batch") {
    const response = await post("/api/v1/ingest", { ops: batchOps(unit) });
    await retryLater(response);
    if (response.status !== 200) throw new WrongAnswer(`ingest answered ${response.status}`);
    const { results } = (await response.json()) as { results: { ok: boolean }[] };
    const refused = results.filter((r) => !r.ok);
    // A refusal is no outage: it is a wrong answer, and the test must say so.
    if (refused.length > 0) throw new WrongAnswer(`ingest refused ${JSON.stringify(refused)}`);
    return true;
  }
  const created = await post("/api/v1/requests", {
    id: unit.id,
    userId: `u${unit.seq % 7}`,
    tenantId: tenant(unit.seq),
    kind: "rest",
  });
  await retryLater(created);
  if (created.status !== 201) throw new WrongAnswer(`create answered ${created.status}`);
  const started = await post(`/api/v1/requests/${unit.id}/transitions`, {
    to: "running",
    workerId: "w2",
  });
  await retryLater(started);
  if (started.status !== 200) throw new WrongAnswer(`start answered ${started.status}`);
  return true;
}

/** A 503 (overloaded, store unavailable) or 429 says "not taken, send it again later". */
async function retryLater(response: Response): Promise<void> {
  if (response.status === 503 || response.status === 429) {
    throw new Error(`answered ${response.status} ${await response.text()}`);
  }
}

/** An answer that is wrong (not a cut connection): fails the test at once. */
export class WrongAnswer extends Error {}

/** What the store holds for the units, as the test prints it. */
export interface KillLedger {
  units: number;
  acknowledgedOps: number;
  resentUnits: number;
  lost: number;
  duplicated: number;
  halfApplied: number;
}

const parse = (value: unknown) => (typeof value === "string" ? JSON.parse(value) : value);

/** Reads the store and checks every unit is there exactly once and whole. */
export async function audit(db: RollupDb, units: readonly Unit[]): Promise<KillLedger> {
  const byId = (rows: Row[]) => new Map(rows.map((r) => [r.id as string, r]));
  const requests = byId(
    await db.all(
      "SELECT id, status, counters, started_at, completed_at, duration_ms, cost_micros FROM requests",
    ),
  );
  const counts = async (sql: string) =>
    new Map((await db.all(sql)).map((r) => [r.id as string, Number(r.n)]));
  const steps = await counts(
    "SELECT request_id AS id, count(*) AS n FROM events WHERE type = 'step' GROUP BY request_id",
  );
  const statusEvents = await counts(
    "SELECT request_id AS id, count(*) AS n FROM events WHERE type = 'status_changed' GROUP BY request_id",
  );
  const created = await counts(
    "SELECT request_id AS id, count(*) AS n FROM events WHERE type = 'request_created' GROUP BY request_id",
  );
  const costs = await counts(
    "SELECT request_id AS id, count(*) AS n FROM costs GROUP BY request_id",
  );
  const stages = await counts(
    "SELECT request_id AS id, count(*) AS n FROM stages WHERE status = 'completed' GROUP BY request_id",
  );
  const ledger: KillLedger = {
    units: units.length,
    acknowledgedOps: 0,
    resentUnits: units.filter((u) => u.resent > 0).length,
    lost: 0,
    duplicated: 0,
    halfApplied: 0,
  };
  // Each figure is expected exactly once: 0 is lost, more is duplicated.
  const once = (n: number | undefined) => {
    if ((n ?? 0) === 0) ledger.lost++;
    else if ((n ?? 0) > 1) ledger.duplicated++;
  };
  for (const unit of units) {
    expect(unit.acked, `${unit.id} was never acknowledged`).toBe(true);
    const row = requests.get(unit.id);
    once(row ? 1 : 0);
    once(created.get(unit.id));
    if (!row) continue;
    if (unit.kind === "batch") {
      ledger.acknowledgedOps += 8;
      once(steps.get(unit.id));
      once(costs.get(unit.id));
      once(stages.get(unit.id));
      const calls = (parse(row.counters) as { calls?: number }).calls ?? 0;
      once(calls);
      if (Number(row.cost_micros) !== 1000 * (costs.get(unit.id) ?? 0)) ledger.halfApplied++;
      const end = unit.seq % 5 === 0 ? "failed" : "completed";
      if (
        row.status !== end ||
        statusEvents.get(unit.id) !== 2 ||
        row.started_at === null ||
        row.completed_at === null ||
        Number(row.duration_ms) !== Number(row.completed_at) - Number(row.started_at)
      ) {
        ledger.halfApplied++;
      }
    } else {
      ledger.acknowledgedOps += 2;
      if (row.status !== "running" || statusEvents.get(unit.id) !== 1 || row.started_at === null) {
        ledger.halfApplied++;
      }
    }
  }
  // Nothing the load did not send.
  expect([...requests.keys()].filter((id) => !units.some((u) => u.id === id))).toEqual([]);
  return ledger;
}
