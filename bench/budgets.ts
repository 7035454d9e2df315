/**
 * How far a burst of concurrent work can overshoot an enforced budget. `CALLERS` callers each
 * loop "create a request, record a cost of COST_USD on it, complete it" against a budget of
 * LIMIT_USD in enforce mode, until every create is refused; the overshoot is the spend above
 * the limit. Twice: without estimates, and with `estimatedCostUsd: COST_USD` on each create
 * (held while the request runs, issue 15).
 * On SQLite and PostgreSQL (`npm run bench -- budgets`, `-- --storage postgres://... budgets`).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { BudgetExceededError, createTracker, type Tracker } from "../src/index.js";
import {
  type Benchmark,
  type BenchmarkReport,
  envPositiveInt,
  formatNumber,
  isMain,
  progress,
  type RunOptions,
  runStandalone,
} from "./support/harness.js";
import { withFreshSchema } from "./support/postgres.js";

// Not a multiple of the callers' lockstep spend, so the last wave can pass the check just under it.
const LIMIT_USD = 10.005;
const COST_USD = 0.01;

interface Outcome {
  spentUsd: number;
  overshootUsd: number;
  /** Requests created after the limit was reached (their cost is the overshoot). */
  createdPastLimit: number;
  refused: number;
}

async function burst(tracker: Tracker, callers: number, estimate: boolean): Promise<Outcome> {
  await tracker.budgets.create({
    tenantId: "bench",
    period: "day",
    amountUsd: LIMIT_USD,
    mode: "enforce",
  });
  let refused = 0;
  const caller = async () => {
    for (;;) {
      try {
        const request = await tracker.createRequest({
          userId: "u",
          tenantId: "bench",
          ...(estimate ? { estimatedCostUsd: COST_USD } : {}),
        });
        await tracker.startRequest(request);
        await tracker.recordCost(request, { service: "llm", amountUsd: COST_USD });
        await tracker.completeRequest(request);
      } catch (error) {
        if (!(error instanceof BudgetExceededError)) throw error;
        refused++;
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: callers }, caller));
  await tracker.flush();
  const [budget] = await tracker.budgets.list();
  if (!budget) throw new Error("the budget is gone");
  const { spentUsd } = await tracker.budgets.status(budget.id);
  const overshootUsd = Math.max(0, spentUsd - LIMIT_USD);
  return {
    spentUsd,
    overshootUsd,
    createdPastLimit: Math.round(overshootUsd / COST_USD),
    refused,
  };
}

async function run(options: RunOptions): Promise<BenchmarkReport> {
  const rounds = envPositiveInt("BENCH_ROUNDS", 3);
  const callerCounts = [1, 10, 100];
  const silent = pino({ level: "silent" });
  const rows: string[][] = [];
  const figures: Record<string, Outcome[]> = {};
  for (const estimate of [false, true])
    for (const callers of callerCounts) {
      const outcomes: Outcome[] = [];
      for (let round = 0; round < rounds; round++) {
        const measure = async (storage: string, postgres?: { schema: string }) => {
          const tracker = await createTracker({
            storage,
            ...(postgres ? { postgres } : {}),
            logger: silent,
            watchdogIntervalMs: 0,
          });
          try {
            return await burst(tracker, callers, estimate);
          } finally {
            await tracker.close();
          }
        };
        let outcome: Outcome;
        if (options.postgresUrl === undefined) {
          const dir = mkdtempSync(join(tmpdir(), "reqtrack-bench-budgets-"));
          try {
            outcome = await measure(join(dir, "budgets.db"));
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        } else {
          outcome = await withFreshSchema(options.postgresUrl, "budgets", (schema) =>
            measure(schema.url, { schema: schema.schema }),
          );
        }
        progress(
          `${estimate ? "with" : "without"} estimates, ${callers} callers, round ${round + 1}/${rounds}: spent ${formatNumber(outcome.spentUsd, 2)} USD ` +
            `of ${LIMIT_USD} (overshoot ${formatNumber(outcome.overshootUsd, 2)})`,
        );
        outcomes.push(outcome);
      }
      const worst = outcomes.reduce((a, b) => (b.overshootUsd > a.overshootUsd ? b : a));
      figures[`${estimate ? "estimated" : "plain"}Callers${callers}`] = outcomes;
      rows.push([
        estimate ? "yes" : "no",
        String(callers),
        formatNumber(LIMIT_USD, 3),
        formatNumber(worst.spentUsd, 2),
        formatNumber(worst.overshootUsd, 2),
        `${formatNumber((worst.overshootUsd / LIMIT_USD) * 100, 1)} %`,
        String(worst.createdPastLimit),
      ]);
    }
  return {
    parameters: {
      limitUsd: LIMIT_USD,
      costPerRequestUsd: COST_USD,
      callerCounts,
      rounds,
      statistic: `worst of ${rounds} rounds`,
      storage: options.postgresUrl === undefined ? "a fresh SQLite file per round" : "PostgreSQL",
    },
    table: {
      columns: [
        { title: "estimates", align: "left" },
        { title: "concurrent callers", align: "right" },
        { title: "limit USD", align: "right" },
        { title: "spent USD", align: "right" },
        { title: "overshoot USD", align: "right" },
        { title: "overshoot", align: "right" },
        { title: "requests past the limit", align: "right" },
      ],
      rows,
    },
    notes: [
      `Each caller loops: create a request, record ${COST_USD} USD on it, complete it; until a create is refused.`,
      "One tracker: the costs it records count at once; the overshoot is the work that had",
      "already passed the check when the limit was reached (at most one request per caller).",
      `With estimates, each create carries estimatedCostUsd ${COST_USD}, held from the check until`,
      "the cost replaces it, so concurrent creates see one another's spend before it happens.",
    ],
    figures,
  };
}

export const benchmark: Benchmark = {
  name: "budgets",
  description: "worst overshoot of an enforced budget under concurrent creates",
  storages: ["sqlite", "postgres"],
  run,
};

if (isMain(import.meta.url)) await runStandalone(benchmark);
