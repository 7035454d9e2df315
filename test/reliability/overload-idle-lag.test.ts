import { afterAll, expect, it } from "vitest";
import { tempDir } from "../support/helpers.js";
import { spawnServe, type ServeProcess } from "./support/serve-process.js";
import { report } from "./support/size.js";

const dir = tempDir("reqtrack-idle-lag-");
let server: ServeProcess | null = null;
afterAll(async () => {
  await server?.kill9();
  dir.cleanup();
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The largest event-loop delay the server's /metrics saw since it was last read, in ms. */
async function maxLagMs(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = /^reqtrack_nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text);
  return Math.round(Number(match?.[1] ?? 0) * 1000);
}

/**
 * A process that waits for cores other processes hold (here: stopped with SIGSTOP while idle)
 * lags as much as an overloaded one, but refusing calls would not help it and would fail
 * calls that nothing of its own delays: the event-loop delay limit counts only while the loop
 * was busy with its own work (`shedding.minEventLoopUtilization`). An overloaded loop still
 * sheds (test/server/shedding.test.ts, overload.test.ts).
 */
it("does not shed on event-loop delay when the loop lagged while idle (waiting for a core, not for its own work)", async () => {
  server = await spawnServe([
    "--storage",
    dir.file("idle-lag.db"),
    "--max-event-loop-delay",
    "200",
  ]);
  const pid = server.child.pid as number;
  // Past the settling period after start (2 sample intervals), then a calm reading.
  await pause(1500);
  await maxLagMs(server.url);
  const statuses: number[] = [];
  for (let round = 0; round < 3; round++) {
    process.kill(pid, "SIGSTOP");
    await pause(1500);
    process.kill(pid, "SIGCONT");
    for (let i = 0; i < 5; i++) {
      const response = await fetch(`${server.url}/api/v1/requests?limit=1`);
      await response.arrayBuffer();
      statuses.push(response.status);
      await pause(100);
    }
  }
  const lag = await maxLagMs(server.url);
  report("idle lag", { statuses: statuses.join(","), maxLagMs: lag });
  expect(lag, "the stop did not delay the loop: the case tested nothing").toBeGreaterThan(1000);
  expect(statuses.filter((s) => s !== 200)).toEqual([]);
}, 60_000);
