import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { createTracker } from "../../src/index.js";
import {
  postgresRollupDb,
  type RollupDb,
  expectRollupsMatchRows,
  sqliteRollupDb,
} from "../analytics/rollup-check.js";
import { silentLogger, tempDir } from "../support/helpers.js";
import { describePostgres } from "../support/postgres.js";
import { PostgresSchemas } from "../support/storages.js";
import { audit, send, type Unit, WrongAnswer } from "./support/kill-load.js";
import { seededRandom } from "./support/random.js";
import { spawnServe, type ServeProcess } from "./support/serve-process.js";
import { report, sized } from "./support/size.js";

const KILLS = sized(5, 50);
const WORKERS = 6;

/**
 * `reqtrack serve` killed with SIGKILL at random moments under concurrent ingest batches and
 * REST writes, restarted on the same store each time; every batch whose answer was lost is
 * resent with the same op ids. Then the store must hold every acknowledged op exactly once,
 * no lifecycle half done, and rollups equal to a recount from the rows.
 */
async function killRun(
  storageArgs: string[],
  key: string,
  openDb: () => Promise<RollupDb & { end?: () => Promise<void> }>,
) {
  const random = seededRandom();
  const headers = { authorization: `Bearer ${key}` };
  const units: Unit[] = [];
  let seq = 0;
  let output = "";
  const retries: string[] = [];
  let server: ServeProcess = await spawnServe(storageArgs);

  /** Sends until acknowledged; a cut connection (the kill) is no answer, so try again. */
  const resend = async (unit: Unit) => {
    for (let attempt = 0; !unit.acked; attempt++) {
      try {
        unit.acked = await send(server.url, headers, unit);
      } catch (error) {
        if (error instanceof WrongAnswer || attempt >= 20) throw error;
        retries.push((error as Error).message.slice(0, 120));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };

  for (let kill = 0; kill < KILLS; kill++) {
    let killing = false;
    const unanswered: Unit[] = [];
    const worker = async () => {
      while (!killing) {
        const n = seq++;
        const kind = random.next() < 0.7 ? "batch" : "rest";
        const unit: Unit = { kind, seq: n, id: `req_${kind}_${n}`, resent: 0, acked: false };
        units.push(unit);
        try {
          unit.acked = await send(server.url, headers, unit);
        } catch (error) {
          if (error instanceof WrongAnswer) throw error;
          unit.resent++;
          unanswered.push(unit);
        }
      }
    };
    const load = Promise.all(Array.from({ length: WORKERS }, worker));
    // The random moment: somewhere in the first half second of load.
    await new Promise((resolve) => setTimeout(resolve, random.between(50, 500)));
    killing = true;
    await server.kill9();
    await load;
    output += server.output();
    server = await spawnServe(storageArgs);
    for (const unit of unanswered) await resend(unit);
  }
  await server.stop();
  output += server.output();

  const db = await openDb();
  try {
    const ledger = await audit(db, units);
    await expectRollupsMatchRows(db);
    const refusals = retries.filter((r) => r.startsWith("answered")).length;
    if (refusals > 0)
      console.log(`[reliability] resends refused with 503/429: ${refusals}`, retries.slice(0, 3));
    return { seed: random.seed, kills: KILLS, output, ...ledger };
  } finally {
    await db.end?.();
  }
}

describe("SIGKILL under load [sqlite]", () => {
  const dir = tempDir("reqtrack-kill-");
  afterAll(() => dir.cleanup());

  it(
    `loses and duplicates nothing acknowledged across ${KILLS} kills, and rollups equal a recount`,
    async () => {
      const storage = dir.file("kill.db");
      const setup = await createTracker({ storage, logger: silentLogger(), watchdogIntervalMs: 0 });
      const { key } = await setup.keys.create({ role: "admin", name: "kill-test" });
      await setup.close();
      const db = new Database(storage, { readonly: true });
      const result = await killRun(["--storage", storage], key, async () => ({
        ...sqliteRollupDb(db),
        end: async () => {
          db.close();
        },
      }));
      const { output, ...figures } = result;
      report("sigkill sqlite", figures);
      expect(figures).toMatchObject({ lost: 0, duplicated: 0, halfApplied: 0 });
      expect(figures.resentUnits).toBeGreaterThan(0);
      // The servers' own logs (banner, info lines) never show a key's secret.
      expect(output).not.toContain(key);
    },
    sized(120_000, 1_800_000),
  );
});

describePostgres("SIGKILL under load [postgres]", (url) => {
  const schemas = new PostgresSchemas(url);
  afterAll(() => schemas.dropAll());

  it(
    `loses and duplicates nothing acknowledged across ${KILLS} kills, and rollups equal a recount`,
    async () => {
      const options = await schemas.fresh();
      const setup = await createTracker({
        ...options,
        logger: silentLogger(),
        watchdogIntervalMs: 0,
      });
      const { key } = await setup.keys.create({ role: "admin", name: "kill-test" });
      await setup.close();
      const schema = options.postgres.schema;
      const result = await killRun(["--storage", url, "--schema", schema], key, () =>
        postgresRollupDb(url, schema),
      );
      const { output, ...figures } = result;
      report("sigkill postgres", figures);
      expect(figures).toMatchObject({ lost: 0, duplicated: 0, halfApplied: 0 });
      expect(output).not.toContain(key);
    },
    sized(180_000, 2_400_000),
  );
});
