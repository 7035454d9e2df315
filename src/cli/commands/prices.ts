import type { Command } from "commander";
import type { PostgresFlags } from "../postgres-options.js";
import { formatTable, terminalWidth } from "../table.js";
import { Progress } from "../transfer/progress.js";
import { numberFlag, timeFlag, withLocalTracker, withStorage } from "./tracker-flags.js";

const usd = (n: number | null) => (n === null ? "-" : `$${n}`);

/**
 * `reqtrack prices list|set` (the price table) and `reqtrack reprice --from --to` (recompute
 * the priced costs of a period, with a progress bar). On a local store (`--storage`).
 */
export function register(program: Command): void {
  if (program.commands.some((c) => c.name() === "prices")) return;
  const prices = program.command("prices").description("List and set prices per service and model");
  withStorage(
    prices
      .command("list")
      .description("Every price version, by service, model and effective time")
      .option("--service <name>", "only this service")
      .option("--json", "print the prices as JSON"),
  ).action(async (o: PostgresFlags & { service?: string; json?: boolean }) => {
    const list = await withLocalTracker(o, (t) =>
      t.prices.list(o.service !== undefined ? { service: o.service } : {}),
    );
    if (o.json) {
      process.stdout.write(`${JSON.stringify(list)}\n`);
      return;
    }
    const rows = list.map((p) => ({
      id: p.id,
      service: p.service,
      model: p.model,
      "input/1M": usd(p.inputUsdPerMillion),
      "output/1M": usd(p.outputUsdPerMillion),
      unit: p.unitUsd === null ? "-" : `$${p.unitUsd}${p.unit ? ` per ${p.unit}` : ""}`,
      from: p.effectiveFrom.toISOString(),
    }));
    process.stdout.write(`${formatTable(rows, terminalWidth())}\n`);
  });
  withStorage(
    prices
      .command("set")
      .description("Add a price version (the same service, model and --from replaces it)")
      .requiredOption("--service <name>", "e.g. openai")
      .requiredOption("--model <model>", "a model, or a pattern with * (gpt-4o*)")
      .option("--input <usd>", "USD per million input tokens")
      .option("--output <usd>", "USD per million output tokens")
      .option("--unit-usd <usd>", "USD per unit (image, second, ...)")
      .option("--unit <name>", "what one unit is")
      .option("--from <time>", "in force from (ISO-8601 or epoch ms; default now)"),
  ).action(
    async (
      o: PostgresFlags & {
        service: string;
        model: string;
        input?: string;
        output?: string;
        unitUsd?: string;
        unit?: string;
        from?: string;
      },
    ) => {
      const input = numberFlag("input", o.input);
      const output = numberFlag("output", o.output);
      const unitUsd = numberFlag("unit-usd", o.unitUsd);
      const from = timeFlag("from", o.from);
      const price = await withLocalTracker(
        o,
        (t) =>
          t.prices.set({
            service: o.service,
            model: o.model,
            ...(input !== undefined ? { inputUsdPerMillion: input } : {}),
            ...(output !== undefined ? { outputUsdPerMillion: output } : {}),
            ...(unitUsd !== undefined ? { unitUsd } : {}),
            ...(o.unit !== undefined ? { unit: o.unit } : {}),
            ...(from !== undefined ? { effectiveFrom: from } : {}),
          }),
        false,
      );
      process.stdout.write(
        `${price.id}: ${price.service} ${price.model} from ${price.effectiveFrom.toISOString()}\n`,
      );
    },
  );
  withStorage(
    program
      .command("reprice")
      .description("Recompute the costs the price table priced in a period, from today's prices")
      .requiredOption("--from <time>", "costs recorded at or after (ISO-8601 or epoch ms)")
      .requiredOption("--to <time>", "costs recorded before")
      .option("--service <name>", "only this service")
      .option("--progress", "draw the progress bar even when stderr is not a terminal")
      .option("--no-progress", "no progress bar (by default it shows only on a terminal)"),
  ).action(
    async (
      o: PostgresFlags & { from: string; to: string; service?: string; progress?: boolean },
    ) => {
      const from = timeFlag("from", o.from) as number;
      const to = timeFlag("to", o.to) as number;
      const bar = new Progress("repricing", null, 0, o.progress);
      const report = await withLocalTracker(o, (t) =>
        t.prices.reprice({
          from,
          to,
          ...(o.service !== undefined ? { service: o.service } : {}),
          onProgress: ({ done, total }) => bar.update(done, total),
        }),
      );
      bar.finish(report.costs);
      process.stdout.write(
        `${report.costs} priced costs, ${report.changed} changed (${report.deltaUsd >= 0 ? "+" : ""}${report.deltaUsd.toFixed(6)} USD), ${report.unpriced} without a price now (left as they were)\n`,
      );
    },
  );
}
