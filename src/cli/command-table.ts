import type { Command } from "commander";

/** What a command module exports: it adds its command (and subcommands) to the program. */
export interface CommandModule {
  register(program: Command): void;
}

/** One row of the command table: a name and summary for `--help`, and how to load it. */
export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<CommandModule>;
}

/**
 * Every CLI command, loaded only when it runs. To add a command, add a row here and a
 * `commands/<name>.ts` exporting `register(program)`; keep heavy imports inside its actions.
 */
export const COMMANDS: readonly CommandEntry[] = [
  {
    name: "serve",
    summary: "Run the HTTP API, live stream, metrics and OpenAPI docs",
    load: () => import("./commands/serve.js"),
  },
  { name: "keys", summary: "Manage API keys", load: () => import("./commands/keys.js") },
  {
    name: "migrate",
    summary: "Apply pending schema migrations and print the schema version",
    load: () => import("./commands/migrate.js"),
  },
  {
    name: "demo",
    summary: "Run a made-up content pipeline through reqtrack once and print what it recorded",
    load: () => import("./commands/demo-command.js"),
  },
  {
    name: "requests",
    summary: "List, show and search requests (local store or --url)",
    load: () => import("./commands/requests.js"),
  },
  {
    name: "stats",
    summary: "Print the overview: counts, failure rate, latency percentiles",
    load: () => import("./commands/stats.js"),
  },
  {
    name: "costs",
    summary: "Print the cost report by service, tenant and kind",
    load: () => import("./commands/stats.js"),
  },
  {
    name: "tail",
    summary: "Follow a server's live stream, coloured by status",
    load: () => import("./commands/tail.js"),
  },
  {
    name: "export",
    summary: "Export requests with stages, events and costs as NDJSON (or CSV)",
    load: () => import("./commands/export.js"),
  },
  {
    name: "prices",
    summary: "List and set the price table (per service and model, versioned)",
    load: () => import("./commands/prices.js"),
  },
  {
    name: "reprice",
    summary: "Recompute the priced costs of a period from today's prices, with a progress bar",
    load: () => import("./commands/prices.js"),
  },
  {
    name: "budgets",
    summary: "List, create, change and delete cost budgets (local store or --url)",
    load: () => import("./commands/budgets.js"),
  },
  {
    name: "replay",
    summary: "Replay a request, or every request matching filters (throttled, resumable)",
    load: () => import("./commands/replay.js"),
  },
  {
    name: "import",
    summary: "Import an NDJSON export; importing the same file twice changes nothing",
    load: () => import("./commands/import.js"),
  },
];

/** The entry of the command `argv` runs (its first word that is not a flag), if any. */
export function findCommand(argv: readonly string[]): CommandEntry | undefined {
  const first = argv.find((arg) => !arg.startsWith("-"));
  return COMMANDS.find((c) => c.name === first);
}
