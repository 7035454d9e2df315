import type { Command } from "commander";
import type { Budget, BudgetInput, BudgetPatch } from "../../core/budgets.js";
import type { BudgetStatus } from "../../tracker/budget-figures.js";
import { openTracker, type TargetFlags, withTarget } from "../backend.js";
import { CliError } from "../fail.js";
import { formatTable, terminalWidth } from "../table.js";
import { numberFlag } from "./tracker-flags.js";

/** What the command needs of budgets: `tracker.budgets` locally, `client.budgets` over --url. */
interface BudgetsApi {
  list(): Promise<Budget[]>;
  create(input: BudgetInput): Promise<Budget>;
  update(id: string, patch: BudgetPatch): Promise<Budget>;
  delete(id: string): Promise<boolean>;
  status(id: string): Promise<BudgetStatus>;
}

/** Runs `fn` on the budgets of `--url` (with `--key`) or of the local store, then closes it. */
async function withBudgets<T>(
  flags: TargetFlags,
  readOnly: boolean,
  fn: (budgets: BudgetsApi) => Promise<T>,
): Promise<T> {
  const url = flags.url ?? process.env.REQTRACK_URL;
  if (url) {
    const [{ createClient }, { pino }] = await Promise.all([
      import("../../client/client.js"),
      import("pino"),
    ]);
    const client = createClient({
      url,
      apiKey: flags.key ?? process.env.REQTRACK_KEY,
      logger: pino({ level: "silent" }),
    });
    try {
      return await fn(client.budgets);
    } finally {
      await client.close();
    }
  }
  const tracker = await openTracker(flags, readOnly);
  try {
    return await fn(tracker.budgets);
  } finally {
    await tracker.close();
  }
}

const usd = (n: number) => `$${Number(n.toFixed(6))}`;

/** Who a budget counts, in a few words. */
function scopeOf(b: Budget): string {
  const s = b.scope;
  const parts = [
    s.tenantId ? `tenant ${s.tenantId}` : "all tenants",
    s.userId && `user ${s.userId}`,
    s.sessionId && `session ${s.sessionId}`,
    s.kind && `kind ${s.kind}`,
    s.service && `service ${s.service}`,
  ];
  return parts.filter(Boolean).join(", ");
}

interface SettingFlags {
  name?: string;
  period?: string;
  rolling?: boolean;
  amount?: string;
  mode?: string;
  thresholds?: string;
  webhook?: string;
}

/** The settings flags, shared by `create` and `update`. */
function withSettings(command: Command): Command {
  return command
    .option("--name <name>", "a name to show (default: from the scope)")
    .option("--rolling", "the last 24 h, 7 d or 30 d instead of the calendar period in UTC")
    .option("--mode <mode>", "alert, or enforce (refuse new requests once spent)")
    .option("--thresholds <list>", "percentages that alert once per period (default 50,80,100)")
    .option("--webhook <url>", "POST each alert as JSON to this URL");
}

/** The settings the flags give; the library checks them and names a bad one. */
function settings(o: SettingFlags): Record<string, unknown> {
  const thresholds = o.thresholds?.split(",").map((t) => numberFlag("thresholds", t.trim()));
  const amountUsd = numberFlag("amount", o.amount);
  return Object.fromEntries(
    Object.entries({
      name: o.name,
      period: o.period,
      rolling: o.rolling,
      amountUsd,
      mode: o.mode,
      thresholds,
      webhookUrl: o.webhook,
    }).filter(([, v]) => v !== undefined),
  );
}

/** One budget's line: its figures in the current period. */
function statusLine(s: BudgetStatus): string {
  const b = s.budget;
  return `${b.id} ${b.name} (${scopeOf(b)}, ${b.rolling ? "rolling " : ""}${b.period}, ${b.mode}): spent ${usd(s.spentUsd)} of ${usd(s.limitUsd)} (${s.percent.toFixed(1)}%), reserved ${usd(s.reservedUsd)}, remaining ${usd(s.remainingUsd)}, projected ${usd(s.projectedUsd)}${s.exceeded ? ", EXCEEDED" : ""}`;
}

/**
 * `reqtrack budgets list|create|update|status|delete`: cost budgets on a local store or a
 * server (`--url`, `--key`: a tenant key sees and manages only its tenant's budgets).
 */
export function register(program: Command): void {
  const budgets = program
    .command("budgets")
    .description("List, create, change and delete cost budgets (local store or --url)");
  withTarget(
    budgets
      .command("list")
      .description("Every budget with its spend in the current period")
      .option("--json", "print each budget's status as JSON"),
  ).action(async (o: TargetFlags & { json?: boolean }) => {
    const all = await withBudgets(o, true, async (api) =>
      Promise.all((await api.list()).map((b) => api.status(b.id))),
    );
    if (o.json) {
      process.stdout.write(`${JSON.stringify(all)}\n`);
      return;
    }
    if (all.length === 0) {
      process.stdout.write("No budgets yet: reqtrack budgets create --period month --amount 100\n");
      return;
    }
    const rows = all.map((s) => ({
      id: s.budget.id,
      name: s.budget.name,
      scope: scopeOf(s.budget),
      period: `${s.budget.rolling ? "rolling " : ""}${s.budget.period}`,
      mode: s.budget.mode,
      limit: usd(s.limitUsd),
      spent: usd(s.spentUsd),
      used: `${s.percent.toFixed(1)}%${s.exceeded ? " !" : ""}`,
    }));
    process.stdout.write(`${formatTable(rows, terminalWidth())}\n`);
  });
  withTarget(
    withSettings(
      budgets
        .command("create")
        .description("Add a budget for a scope (a tenant key's budget is its tenant's)")
        .requiredOption("--period <period>", "day, week or month")
        .requiredOption("--amount <usd>", "the limit in USD")
        .option("--tenant <id>", "the tenant it counts (default: all tenants; admin only)")
        .option("--user <id>", "only this user's requests")
        .option("--session <id>", "only this session's requests")
        .option("--kind <kind>", "only this kind of request")
        .option("--service <name>", "only this service's costs"),
    ),
  ).action(
    async (
      o: TargetFlags &
        SettingFlags & {
          tenant?: string;
          user?: string;
          session?: string;
          kind?: string;
          service?: string;
        },
    ) => {
      const scope = Object.fromEntries(
        Object.entries({
          tenantId: o.tenant,
          userId: o.user,
          sessionId: o.session,
          kind: o.kind,
          service: o.service,
        }).filter(([, v]) => v !== undefined),
      );
      const made = await withBudgets(o, false, (api) =>
        api.create({ ...scope, ...settings(o) } as BudgetInput),
      );
      process.stdout.write(`${made.id}: ${made.name} (${scopeOf(made)}, ${made.mode})\n`);
    },
  );
  withTarget(
    withSettings(
      budgets
        .command("update <id>")
        .description("Change a budget's settings (its scope stays)")
        .option("--period <period>", "day, week or month")
        .option("--amount <usd>", "the limit in USD")
        .option("--calendar", "the calendar period in UTC again (undoes --rolling)"),
    ),
  ).action(async (id: string, o: TargetFlags & SettingFlags & { calendar?: boolean }) => {
    const patch = { ...settings(o), ...(o.calendar ? { rolling: false } : {}) };
    if (Object.keys(patch).length === 0) {
      throw new CliError("Nothing to change: pass --amount, --mode, --period, ... (see --help)");
    }
    const changed = await withBudgets(o, false, (api) => api.update(id, patch as BudgetPatch));
    process.stdout.write(`${changed.id}: ${changed.name} updated\n`);
  });
  withTarget(
    budgets
      .command("status <id>")
      .description("Spent, reserved, remaining and projected spend in the current period")
      .option("--json", "print the status as JSON"),
  ).action(async (id: string, o: TargetFlags & { json?: boolean }) => {
    const s = await withBudgets(o, true, (api) => api.status(id));
    process.stdout.write(o.json ? `${JSON.stringify(s)}\n` : `${statusLine(s)}\n`);
  });
  withTarget(budgets.command("delete <id>").description("Delete a budget")).action(
    async (id: string, o: TargetFlags) => {
      const deleted = await withBudgets(o, false, (api) => api.delete(id));
      if (!deleted) throw new CliError(`Budget ${id} not found`);
      process.stdout.write(`${id} deleted\n`);
    },
  );
}
