import type { Command } from "commander";
import { type Json, type TargetFlags, withBackend, withTarget } from "../backend.js";
import { formatTable, terminalWidth } from "../table.js";

const usd = (value: unknown) => `$${Number(value ?? 0).toFixed(4)}`;
const num = (value: unknown) =>
  value === null || value === undefined
    ? "-"
    : typeof value === "number"
      ? String(Math.round(value))
      : String(value);

function printOverview(o: Json): void {
  const counts = (o.countsByStatus ?? {}) as Record<string, number>;
  const latency = (o.latencyMs ?? {}) as Record<string, number | null>;
  const queue = (o.queueMs ?? {}) as Record<string, number | null>;
  const lanes = (o.queueDepthByLane ?? {}) as Record<string, number>;
  const lines = [
    `Overview, last ${String(o.window)} (${String(o.from)} to ${String(o.to)})`,
    `  requests      ${num(o.total)}`,
    `  by status     ${Object.entries(counts)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
    `  failure rate  ${o.failureRatePct === null ? "-" : `${Number(o.failureRatePct).toFixed(1)} %`}`,
    `  latency ms    p50 ${num(latency.p50)}  p95 ${num(latency.p95)}  p99 ${num(latency.p99)}`,
    `  queue ms      p50 ${num(queue.p50)}  p95 ${num(queue.p95)}`,
    `  throughput    ${Number(o.throughputPerMin ?? 0).toFixed(2)} per minute`,
    `  running now   ${num(o.active)}`,
    `  pending now   ${Object.entries(lanes)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
    `  cost          ${usd(o.costUsd)}`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

function printCosts(r: Json): void {
  const width = terminalWidth();
  const table = (title: string, rows: Json[], key: string, count: string) =>
    `\n${title}\n${formatTable(
      rows.map((x) => ({
        [key]: String(x[key] ?? "(none)"),
        [count]: num(x[count]),
        usd: usd(x.costUsd),
      })),
      width,
    )}\n`;
  process.stdout.write(
    `Cost report ${String(r.periodStart)} to ${String(r.periodEnd)}: ${usd(r.totalCostUsd)} over ${num(r.totalRequests)} requests\n` +
      table("By service", (r.byService ?? []) as Json[], "service", "records") +
      table("By operation", (r.byOperation ?? []) as Json[], "kind", "requests") +
      table("By tenant", (r.byTenant ?? []) as Json[], "tenantId", "requests"),
  );
}

/** `reqtrack stats` (the overview) and `reqtrack costs` (the cost report). */
export function register(program: Command): void {
  withTarget(
    program
      .command("stats")
      .description("Print the overview: counts, failure rate, latency percentiles")
      .option("--window <w>", "how far back, e.g. 1h, 24h, 7d", "24h")
      .option("--tenant <id>", "one tenant only")
      .option("--json", "print JSON"),
  ).action(async (flags: TargetFlags & { window: string; tenant?: string; json?: boolean }) => {
    const o = await withBackend(flags, true, (b) =>
      b.overview({ window: flags.window, tenantId: flags.tenant }),
    );
    if (flags.json) process.stdout.write(`${JSON.stringify(o)}\n`);
    else printOverview(o);
  });
  withTarget(
    program
      .command("costs")
      .description("Print the cost report by service, tenant and kind")
      .option("--tenant <id>", "one tenant only")
      .option("--session <id>", "one session only")
      .option("--from <time>", "first day (ISO-8601 or epoch ms)")
      .option("--to <time>", "end (ISO-8601 or epoch ms)")
      .option("--json", "print JSON"),
  ).action(
    async (
      flags: TargetFlags & {
        tenant?: string;
        session?: string;
        from?: string;
        to?: string;
        json?: boolean;
      },
    ) => {
      const r = await withBackend(flags, true, (b) =>
        b.costs({
          tenantId: flags.tenant,
          sessionId: flags.session,
          from: flags.from,
          to: flags.to,
        }),
      );
      if (flags.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else printCosts(r);
    },
  );
}
