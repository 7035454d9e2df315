import { fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";
import { createTracker } from "../../src/index.js";
import { silentLogger, tempDir } from "../support/helpers.js";
import { spawnServe, type ServeProcess } from "./support/serve-process.js";
import type { FloodTally } from "./support/flood.js";
import { LONG, report, sized } from "./support/size.js";

/**
 * The load one process holds with a flat p99 on the machine the figures were taken on
 * (docs/reliability.md, "What one process holds"; the soak's default `--rate`), in calls/s.
 */
const DOCUMENTED_CALLS_PER_S = 200;
const ASKED_PER_S = 10 * DOCUMENTED_CALLS_PER_S;
const SECONDS = sized(5, 60);
/** Connections in all, each pipelining up to 8 calls (support/flood.ts). */
const CONNECTIONS = 400;
/**
 * The flood's processes. One undici process sends a few thousand calls/s on a free core; on
 * two shared cores the server and the flood compete, so the flood is split to use both.
 */
const FLOOD_PROCESSES = Number(process.env.REQTRACK_FLOOD_PROCESSES ?? 2);
/**
 * In the long run, the share of the asked rate the flood must really have sent, or the run
 * says nothing about 10x. The short run (CI, any machine) checks behaviour only.
 */
const MIN_SENT_SHARE = 0.9;
const FLOOD = fileURLToPath(new URL("./support/flood.ts", import.meta.url));
/**
 * The short run sets limits low enough that the flood reaches one on any machine, so that it
 * always sees sheds (a CI machine may be fast enough to serve a short flood whole). The long
 * run floods the server as a process with its cores to itself runs (docs/server.md): the
 * default in-flight limit (256) and the event-loop delay limit the soak uses (100 ms, counted
 * while the loop is busy with its own work). The delay limit is what sheds here: calls past
 * what the loop can serve wait in the kernel's socket buffers, where the in-flight count
 * never sees them.
 */
const SHEDDING = sized(
  ["--max-in-flight", "8", "--max-event-loop-delay", "200"],
  ["--max-event-loop-delay", "100"],
);

/** The server process's resident memory, read from /proc (Linux). */
const rssMiB = (pid: number) => {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Math.round(Number(match?.[1] ?? 0) / 1024);
};

/** Runs the flood in `FLOOD_PROCESSES` child processes at once and adds up what they saw. */
async function flood(url: string): Promise<FloodTally> {
  const runs = Array.from({ length: FLOOD_PROCESSES }, (_, i) => {
    const child = fork(
      FLOOD,
      [
        url,
        String(ASKED_PER_S / FLOOD_PROCESSES),
        String(CONNECTIONS / FLOOD_PROCESSES),
        String(SECONDS),
        `p${i}`,
      ],
      { execArgv: ["--import", "tsx"] },
    );
    return new Promise<FloodTally>((resolve, reject) => {
      child.once("message", (tally) => resolve(tally as FloodTally));
      child.once("exit", (code) => reject(new Error(`flood process ${i} exited with ${code}`)));
    });
  });
  const total: FloodTally = {
    statuses: {},
    created: [],
    completed: [],
    due: 0,
    sent: 0,
    skipped: 0,
    errors: 0,
    timeouts: 0,
    resets: 0,
    p99Ms: 0,
  };
  for (const tally of await Promise.all(runs)) {
    for (const [status, n] of Object.entries(tally.statuses)) {
      total.statuses[Number(status)] = (total.statuses[Number(status)] ?? 0) + n;
    }
    total.created.push(...tally.created);
    total.completed.push(...tally.completed);
    total.due += tally.due;
    total.sent += tally.sent;
    total.skipped += tally.skipped;
    total.errors += tally.errors;
    total.timeouts += tally.timeouts;
    total.resets += tally.resets;
    total.p99Ms = Math.max(total.p99Ms, tally.p99Ms);
  }
  return total;
}

/** Asks until the server answers normally, honouring Retry-After as a client does. */
async function firstNormalAnswer(url: string): Promise<{ status: number; tries: number }> {
  for (let tries = 1; ; tries++) {
    const response = await fetch(`${url}/api/v1/requests?limit=1`);
    await response.arrayBuffer();
    if (response.status !== 503 || tries >= 10) return { status: response.status, tries };
    const wait = Number(response.headers.get("retry-after") ?? 1) * 1000;
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

const dir = tempDir("reqtrack-overload-");
let server: ServeProcess | null = null;
afterAll(async () => {
  await server?.kill9();
  dir.cleanup();
});

it(
  `sheds 10x the documented load (${ASKED_PER_S} calls/s asked) with coded 503s, stores every acknowledged write and answers normally afterwards`,
  async () => {
    const storage = dir.file("overload.db");
    server = await spawnServe(["--storage", storage, ...SHEDDING]);
    const pid = server.child.pid as number;
    const startRss = rssMiB(pid);
    let peakRss = startRss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMiB(pid))), 200);
    let tally: FloodTally;
    try {
      tally = await flood(server.url);
    } finally {
      clearInterval(sampler);
    }
    const alive = server.child.exitCode === null && server.child.signalCode === null;
    const after = await firstNormalAnswer(server.url);
    const shed = tally.statuses[503] ?? 0;
    const other5xx = Object.entries(tally.statuses).filter(
      ([s]) => Number(s) >= 500 && s !== "503",
    );
    const sentShare = tally.sent / Math.max(1, ASKED_PER_S * SECONDS);
    report("overload", {
      asked: `${ASKED_PER_S}/s`,
      sent: `${Math.round(tally.sent / SECONDS)}/s (${Math.round(sentShare * 100)} %)`,
      notSent: tally.skipped,
      floodProcesses: FLOOD_PROCESSES,
      seconds: SECONDS,
      statuses: JSON.stringify(tally.statuses),
      shed,
      acknowledgedCreates: tally.created.length,
      errors: tally.errors,
      timeouts: tally.timeouts,
      resets: tally.resets,
      p99Ms: tally.p99Ms,
      rssMiB: `${startRss}->${peakRss}`,
      afterwards: `${after.status} in ${after.tries} tries`,
    });
    expect(alive, server.output()).toBe(true);
    if (LONG) {
      expect(sentShare, "the flood could not send the rate asked").toBeGreaterThanOrEqual(
        MIN_SENT_SHARE,
      );
    }
    expect(other5xx).toEqual([]);
    expect(tally.errors + tally.timeouts + tally.resets).toBe(0);
    expect(shed, "the flood never reached the limit: it tested nothing").toBeGreaterThan(0);
    expect(after.status).toBe(200);
    // Bounded: the in-flight limit caps what a flood can hold, whatever its length.
    expect(peakRss).toBeLessThan(startRss + 400);

    await server.stop();
    const tracker = await createTracker({ storage, logger: silentLogger(), watchdogIntervalMs: 0 });
    try {
      const missing: string[] = [];
      const completed = new Set(tally.completed);
      for (const id of tally.created) {
        const stored = await tracker.getRequest(id);
        const want = completed.has(id) ? "completed" : "pending";
        if (stored?.status !== want) missing.push(`${id}: ${stored?.status ?? "absent"}`);
      }
      report("overload stored", { acknowledged: tally.created.length, missing: missing.length });
      expect(missing).toEqual([]);
      expect(tally.created.length).toBeGreaterThan(0);
    } finally {
      await tracker.close();
    }
  },
  (SECONDS + 180) * 1000,
);
