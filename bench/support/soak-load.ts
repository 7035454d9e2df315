/**
 * The soak's load generator, run as a child process of bench/soak.ts so that sending the load
 * does not take the server's event loop and core (in one process, the pacer and its HTTP
 * client used as much CPU as the server, and 800 calls/s asked became 133-172 sent).
 *
 * argv: <base url> <calls per second> <minutes>. Every 30 s it sends the parent a
 * `LoadPeriod` over IPC, and `{ done: true }` at the end.
 */
import * as http from "node:http";
import { build, encodeIntoCompressedBase64 } from "hdr-histogram-js";

/** What the generator saw in one 30 s period. */
export interface LoadPeriod {
  /** Request p99, from when the call was due (so a late pacer counts against it). */
  p99Ms: number;
  /** The same p99 over the calls the server served (every answer but the 503 sheds). */
  servedP99Ms: number;
  /** Calls answered. */
  answered: number;
  /** Calls due (sent, or still waiting for a socket). */
  due: number;
  /** Answers 5xx, or no answer (a reset connection). */
  errors: number;
  /** Answers 503 RT_ERR_OVERLOADED among the errors. */
  shed: number;
  /** CPU the generator used, as a percentage of one core. */
  cpuPercent: number;
  /** SSE clients connected at the period's end. */
  streams: number;
  /** The period's latencies (µs) as a compressed HdrHistogram, so that thirds can be merged. */
  histogram: string;
  /** The same over the served calls. */
  servedHistogram: string;
}

const PERIOD_MS = 30_000;
const [base = "", rateArg = "800", minutesArg = "10"] = process.argv.slice(2);
const RATE = Number(rateArg);
const END = Date.now() + Number(minutesArg) * 60_000;
/**
 * More sockets than the server's in-flight limit (256 by default), so that what the server
 * cannot serve reaches it, to be shed, instead of waiting in this process's socket queue
 * (with 256, the backlog grew here all run long and counted in the p99). Fewer than the
 * server's listen backlog (511): with 1,024, connections opened in a burst overflowed it and
 * their SYNs were retried by the kernel for up to 63 s (1 + 2 + ... + 32), the p99 of a run.
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: 384 });

/** One call; resolves with its status, 0 when the connection failed. */
function call(method: string, path: string, body?: unknown): Promise<number> {
  return new Promise((resolve) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const request = http.request(
      `${base}${path}`,
      { method, agent, headers: payload ? { "content-type": "application/json" } : {} },
      (response) => {
        response.resume();
        response.on("end", () => resolve(response.statusCode ?? 0));
      },
    );
    request.on("error", () => resolve(0));
    request.end(payload);
  });
}

let n = 0;
const recent: string[] = [];
/** The mix: 40 % REST creates, 20 % ingest lifecycles, 20 % lists, 10 % stats, 10 % by id. */
function mixed(): Promise<number> {
  n += 1;
  const kind = n % 10;
  if (kind < 4) return call("POST", "/api/v1/requests", { userId: `u${n % 50}` });
  if (kind < 6) {
    const id = `req_soak_${process.pid}_${n}`;
    recent.push(id);
    if (recent.length > 1000) recent.shift();
    return call("POST", "/api/v1/ingest", {
      ops: [
        { opId: `c${n}`, type: "create", request: { id, userId: "u" } },
        { opId: `t${n}`, type: "transition", requestId: id, to: "running", workerId: "w" },
        { opId: `k${n}`, type: "cost", requestId: id, cost: { service: "s", amountUsd: 0.01 } },
        { opId: `d${n}`, type: "transition", requestId: id, to: "completed" },
      ],
    });
  }
  if (kind < 8) return call("GET", "/api/v1/requests?limit=20");
  if (kind === 8) return call("GET", "/api/v1/stats/overview?window=1h");
  return call("GET", `/api/v1/requests/${recent.at(-1) ?? "none"}`);
}

/** Five live-stream clients that read everything, as dashboards do. */
function openStreams(): { connected: () => number; close: () => void } {
  let connected = 0;
  const requests = Array.from({ length: 5 }, () => {
    const request = http.get(`${base}/api/v1/stream`, (response) => {
      if (response.statusCode === 200) connected += 1;
      response.on("close", () => (connected -= 1));
      response.resume();
    });
    request.on("error", () => {});
    return request;
  });
  return { connected: () => connected, close: () => requests.forEach((r) => r.destroy()) };
}

async function main(): Promise<void> {
  const streams = openStreams();
  const newHistogram = () => build({ lowestDiscernibleValue: 1, highestTrackableValue: 6e7 });
  let latency = newHistogram();
  let served = newHistogram();
  let period = { answered: 0, due: 0, errors: 0, shed: 0 };
  let cpu = process.cpuUsage();
  let cpuAt = performance.now();
  const report = setInterval(() => {
    const used = process.cpuUsage(cpu);
    const elapsed = performance.now() - cpuAt;
    const figures: LoadPeriod = {
      p99Ms: Math.round(latency.getValueAtPercentile(99) / 1000),
      servedP99Ms: Math.round(served.getValueAtPercentile(99) / 1000),
      ...period,
      cpuPercent: Math.round(((used.user + used.system) / 1000 / elapsed) * 100),
      streams: streams.connected(),
      histogram: encodeIntoCompressedBase64(latency),
      servedHistogram: encodeIntoCompressedBase64(served),
    };
    process.send?.(figures);
    latency = newHistogram();
    served = newHistogram();
    period = { answered: 0, due: 0, errors: 0, shed: 0 };
    cpu = process.cpuUsage();
    cpuAt = performance.now();
  }, PERIOD_MS);

  // Open loop: calls fall due at RATE a second whatever the answers take, as real clients
  // send them; each is timed from when it was due, so a lagging pacer shows in the p99.
  const started = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const pace = setInterval(() => {
      if (Date.now() >= END) {
        clearInterval(pace);
        resolve();
        return;
      }
      const dueNow = Math.floor(((performance.now() - started) / 1000) * RATE);
      for (; sent < dueNow; sent++) {
        const due = started + (sent / RATE) * 1000;
        period.due += 1;
        void mixed().then((status) => {
          const micros = Math.max(1, Math.round((performance.now() - due) * 1000));
          latency.recordValue(micros);
          if (status !== 503) served.recordValue(micros);
          period.answered += 1;
          if (status === 0 || status >= 500) period.errors += 1;
          if (status === 503) period.shed += 1;
        });
      }
    }, 5);
  });
  clearInterval(report);
  streams.close();
  agent.destroy();
  process.send?.({ done: true });
}

await main();
