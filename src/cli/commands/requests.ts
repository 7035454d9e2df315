import type { Command } from "commander";
import { type Json, type Query, type TargetFlags, withBackend, withTarget } from "../backend.js";
import { CliError } from "../fail.js";
import { formatTable, terminalWidth } from "../table.js";
import { REQUEST_FIELDS } from "../request-fields.js";

interface ListFlags extends TargetFlags {
  status?: string;
  kind?: string;
  tenant?: string;
  user?: string;
  channel?: string;
  session?: string;
  parent?: string;
  tag?: string;
  from?: string;
  to?: string;
  limit: string;
  cursor?: string;
  json?: boolean;
}

/** The API's list filters as flags. */
function withFilters(command: Command): Command {
  return withTarget(
    command
      .option("--status <list>", "pending,running,completed,failed,timeout,cancelled (comma list)")
      .option("--kind <kind>", "operation type, e.g. video_generation")
      .option("--tenant <id>", "tenant id")
      .option("--user <id>", "user id")
      .option("--channel <id>", "channel id")
      .option("--session <id>", "session id")
      .option("--parent <id>", "children of this request (a conversation walked forwards)")
      .option("--tag <tag>", "requests carrying this tag")
      .option("--from <time>", "created at or after (ISO-8601 or epoch ms)")
      .option("--to <time>", "created before (ISO-8601 or epoch ms)")
      .option("--limit <n>", "at most this many rows (1-1000)", "20")
      .option("--cursor <cursor>", "continue after a previous page (its nextCursor)")
      .option("--json", "print the API's JSON page, for scripts"),
  );
}

/** The HTTP API's query for `flags` (the local backend reads the same names). */
export function listQuery(flags: ListFlags): Query {
  if (!/^\d+$/.test(flags.limit) || Number(flags.limit) > 1000) {
    throw new CliError(`--limit must be a whole number from 0 to 1000, not ${flags.limit}`);
  }
  for (const name of ["from", "to"] as const) {
    const value = flags[name];
    if (value !== undefined && !/^\d+$/.test(value) && Number.isNaN(Date.parse(value))) {
      throw new CliError(`--${name} must be an ISO-8601 time or epoch ms, not ${value}`);
    }
  }
  const iso = (value: string | undefined) =>
    value === undefined || !/^\d+$/.test(value) ? value : new Date(Number(value)).toISOString();
  return {
    status: flags.status,
    kind: flags.kind,
    tenantId: flags.tenant,
    userId: flags.user,
    channelId: flags.channel,
    sessionId: flags.session,
    parentId: flags.parent,
    tag: flags.tag,
    from: iso(flags.from),
    to: iso(flags.to),
    limit: flags.limit,
    cursor: flags.cursor,
  };
}

const ago = (iso: unknown) => (typeof iso === "string" ? iso.replace("T", " ").slice(0, 19) : "");
const ms = (value: unknown) =>
  typeof value === "number"
    ? value < 10_000
      ? `${value} ms`
      : `${(value / 1000).toFixed(1)} s`
    : "-";

function row(r: Json): Record<string, string> {
  return {
    id: String(r.id),
    created: ago(r.createdAt),
    status: String(r.status),
    kind: String(r.kind ?? ""),
    tenant: String(r.tenantId ?? ""),
    user: String(r.userId ?? ""),
    run: ms(r.durationMs),
    cost: `$${Number(r.costUsd ?? 0).toFixed(4)}`,
    error: String(r.errorMessage ?? ""),
  };
}

async function list(flags: ListFlags) {
  const page = await withBackend(flags, true, (b) => b.list(listQuery(flags)));
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(page)}\n`);
    return;
  }
  process.stdout.write(`${formatTable(page.items.map(row), terminalWidth())}\n`);
  const more = page.nextCursor ? `; next page: --cursor ${page.nextCursor}` : "";
  process.stdout.write(`${page.items.length} of ${page.total}${more}\n`);
}

async function show(id: string, flags: TargetFlags & { json?: boolean; events?: boolean }) {
  const found = await withBackend(flags, true, async (b) => {
    const request = await b.show(id);
    return request && { request, events: flags.events || flags.json ? await b.events(id) : [] };
  });
  if (!found) throw new CliError(`No request ${id}`);
  const { request, events } = found;
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ ...request, events })}\n`);
    return;
  }
  const width = terminalWidth();
  // Tags are printed on their own line below; priority is implied by the lane.
  const fields = REQUEST_FIELDS.filter((f) => f !== "tags" && f !== "priority");
  for (const f of fields) {
    const value = request[f];
    if (value !== null && value !== undefined)
      process.stdout.write(`${f.padEnd(15)}${String(value)}\n`);
  }
  if ((request.tags as string[]).length)
    process.stdout.write(`${"tags".padEnd(15)}${(request.tags as string[]).join(", ")}\n`);
  const stages = (request.stages as Json[]).map((s) => ({
    stage: String(s.name),
    attempt: String(s.attempt),
    status: String(s.status),
    duration: ms(s.durationMs),
    error: String(s.errorMessage ?? ""),
  }));
  process.stdout.write(`\nStages\n${formatTable(stages, width)}\n`);
  const costs = (request.costs as Json[]).map((c) => ({
    service: String(c.service),
    stage: String(c.stage ?? ""),
    usd: `$${Number(c.amountUsd).toFixed(6)}`,
    at: ago(c.ts),
  }));
  process.stdout.write(`\nCosts\n${formatTable(costs, width)}\n`);
  if (flags.events) {
    const rows = events.map((e) => ({
      seq: String(e.seq),
      at: ago(e.ts),
      type: String(e.type),
      severity: String(e.severity),
      message: String(e.message),
    }));
    process.stdout.write(`\nEvents\n${formatTable(rows, width)}\n`);
  }
}

/** `reqtrack requests list|show|search`. */
export function register(program: Command): void {
  const requests = program
    .command("requests")
    .description("List, show and search requests (local store or --url)");
  withFilters(requests.command("list").description("Requests newest first, filtered")).action(list);
  withFilters(
    requests
      .command("search <text>")
      .description(
        "Requests whose user, tenant, session, channel or tag is <text> (an id shows it)",
      ),
  ).action(async (text: string, flags: ListFlags) => {
    if (/^req_/.test(text)) return show(text, flags);
    // The API filters by exact fields; search tries each in turn and merges what matches.
    const seen = new Map<string, Json>();
    const keys = ["userId", "tenantId", "sessionId", "channelId", "tag"] as const;
    await withBackend(flags, true, async (b) => {
      for (const key of keys) {
        const page = await b.list({ ...listQuery(flags), [key]: text });
        for (const item of page.items) seen.set(String(item.id), item);
      }
    });
    const items = [...seen.values()]
      .sort((a, b) => String(b.createdAt).localeCompare(String(a.createdAt)))
      .slice(0, Number(flags.limit));
    if (flags.json) {
      process.stdout.write(`${JSON.stringify({ items })}\n`);
      return;
    }
    process.stdout.write(`${formatTable(items.map(row), terminalWidth())}\n`);
  });
  withTarget(
    requests
      .command("show <id>")
      .description("One request with its stages and costs")
      .option("--events", "also print its history (status and stage changes, events)")
      .option("--json", "print JSON (with events), for scripts"),
  ).action(show);
}
