import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { redactUrl } from "./harness.js";

/**
 * PostgreSQL for the benchmarks: every run gets a schema of its own, made before the run and
 * dropped (CASCADE) after it, so runs never see each other's rows and nothing is left behind.
 * The tracker reaches its schema through the URL (`options=-c search_path=...`), as any
 * createTracker user can.
 */
export interface BenchSchema {
  /**
   * The base URL with this schema as the search_path of every session, and the schema's name
   * as their application_name (so that `rowWritesOf` can tell when they have all ended).
   */
  readonly url: string;
  readonly schema: string;
}

/** Creates a fresh schema, runs `work` on it, and drops it whatever happens. */
export async function withFreshSchema<T>(
  baseUrl: string,
  label: string,
  work: (schema: BenchSchema) => Promise<T>,
): Promise<T> {
  const schema = `reqtrack_bench_${label}_${randomBytes(4).toString("hex")}`;
  await onConnection(baseUrl, (client) => client.query(`CREATE SCHEMA ${schema}`));
  liveSchemas.set(schema, baseUrl);
  dropSchemasOnSignal();
  try {
    const separator = baseUrl.includes("?") ? "&" : "?";
    const options = encodeURIComponent(`-c search_path=${schema}`);
    const url = `${baseUrl}${separator}options=${options}&application_name=${schema}`;
    return await work({ url, schema });
  } finally {
    await dropSchema(baseUrl, schema);
    liveSchemas.delete(schema);
  }
}

/** Schemas made and not yet dropped, with the URL to drop them through. */
const liveSchemas = new Map<string, string>();
let signalHandlersInstalled = false;

/**
 * A run can take many minutes: when it is interrupted (Ctrl-C, a kill), its schemas are
 * dropped before the process ends with that signal, instead of staying behind.
 */
function dropSchemasOnSignal(): void {
  if (signalHandlersInstalled) return;
  signalHandlersInstalled = true;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      const drops = [...liveSchemas].map(([schema, url]) => dropSchema(url, schema));
      void Promise.allSettled(drops).then(() => process.kill(process.pid, signal));
    });
  }
}

async function dropSchema(baseUrl: string, schema: string): Promise<void> {
  await onConnection(baseUrl, async (client) => {
    // The interrupted run's own connections may still hold locks: give up rather than hang.
    await client.query("SET lock_timeout = '10s'");
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });
}

/** Runs `work` on one new connection (see `connect`), closed afterwards. */
export async function onConnection<T>(
  url: string,
  work: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = await connect(url);
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * A new connection on which BIGINT (counts, epoch ms, micro-USD) reads as a JS number, as in
 * reqtrack's own pool (src/store/postgres/pg-connection.ts). The caller ends it.
 */
export async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: url,
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === pg.types.builtins.INT8 && format !== "binary"
          ? Number
          : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig["getTypeParser"],
    },
  });
  await client.connect();
  return client;
}

/**
 * Rows inserted, updated and deleted in the schema's tables, as the server counts them
 * (pg_stat_user_tables): PostgreSQL's `total_changes()`. Call it once the run's connections
 * are closed; it waits until their sessions have ended, since a session hands its counts
 * over when it ends (or every second or so while it lives).
 */
export async function rowWritesOf({ url, schema }: BenchSchema): Promise<number> {
  return onConnection(url, async (client) => {
    for (let attempt = 0; ; attempt++) {
      const { rows } = await client.query<{ n: number }>(
        `SELECT count(*) AS n FROM pg_stat_activity
        WHERE application_name = $1 AND pid <> pg_backend_pid()`,
        [schema],
      );
      if (rows[0]?.n === 0) break;
      if (attempt === 100) throw new Error(`sessions on ${schema} still open after 10 s`);
      await sleep(100);
    }
    const { rows } = await client.query<{ n: string | null }>(
      `SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) AS n FROM pg_stat_user_tables
      WHERE schemaname = $1`,
      [schema],
    );
    return Number(rows[0]?.n ?? 0);
  });
}

/** `SELECT <one number>` on `client`: counts and sums for the checks after a run. */
export function numberOf(client: pg.Client): (query: string) => Promise<number> {
  return async (query) => {
    const { rows } = await client.query<Record<string, unknown>>(query);
    return Number(Object.values(rows[0] ?? {})[0] ?? Number.NaN);
  };
}

/** The server and the settings that shape write figures, for the results file. */
export async function postgresServer(url: string) {
  return onConnection(url, async (client) => {
    const setting = async (name: string) =>
      (await client.query<{ value: string }>("SELECT current_setting($1) AS value", [name])).rows[0]
        ?.value;
    return {
      url: redactUrl(url),
      version: await setting("server_version"),
      synchronousCommit: await setting("synchronous_commit"),
      fsync: await setting("fsync"),
      sharedBuffers: await setting("shared_buffers"),
      walLevel: await setting("wal_level"),
    };
  });
}

/** Linux reports process CPU time in USER_HZ ticks, 100 a second. */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * A reader of the CPU seconds the PostgreSQL server behind `url` has used so far, all its
 * processes together (the postmaster with the backends it has reaped, plus the live ones),
 * or null when the server is not on this machine. Like redis-server's INFO cpu for BullMQ:
 * the share of the work done outside this process. It counts every client of the server.
 */
export async function postgresCpuReader(url: string): Promise<(() => number) | null> {
  // Asked while the backend lives: its parent is the postmaster.
  const postmaster = await onConnection(url, async (client) => {
    const { rows } = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
    const backend = rows[0]?.pid;
    return backend === undefined ? undefined : procStat(backend)?.ppid;
  });
  if (postmaster === undefined || procStat(postmaster) === null) return null;
  return () => {
    const server = procStat(postmaster);
    if (server === null) throw new Error(`the PostgreSQL server (pid ${postmaster}) is gone`);
    let ticks = server.ticks + server.reapedChildTicks;
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      const stat = procStat(Number(entry));
      if (stat?.ppid === postmaster) ticks += stat.ticks;
    }
    return ticks / CLOCK_TICKS_PER_SECOND;
  };
}

/** A process's parent and CPU ticks from /proc/<pid>/stat; null when it cannot be read. */
function procStat(pid: number): { ppid: number; ticks: number; reapedChildTicks: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // Fields after the command name (which may hold spaces): state, ppid, ... utime (14th
  // field of the line), stime, cutime, cstime.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const field = (n: number) => Number(fields[n - 3]);
  return { ppid: field(4), ticks: field(14) + field(15), reapedChildTicks: field(16) + field(17) };
}
