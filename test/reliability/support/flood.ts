/**
 * One process of the overload test's flood (test/reliability/overload.test.ts forks several).
 *
 * An open-loop sender on an undici Pool (keep-alive, pipelined): calls fall due at the asked
 * rate whatever the answers take, and each goes on a socket at once unless every connection's
 * pipeline is full, in which case it is counted as not sent (`skipped`) instead of queued in
 * the client. So `sent` is what really reached the server, and a generator that cannot keep
 * up says so. (autocannon, the first generator, is closed-loop per connection: with the
 * server holding calls for hundreds of ms it sent 430-1,500 of the 8,000 calls/s asked.)
 * Bodies are built from templates by string concatenation, not JSON.stringify per call.
 *
 * argv: <base url> <calls per second> <connections> <seconds> <id prefix>. It sends the parent
 * one `FloodTally` over IPC when its run ends, then exits.
 */
import { Pool } from "undici";

/** What one flood process sent and what the server acknowledged. */
export interface FloodTally {
  /** Answers by HTTP status. */
  statuses: Record<number, number>;
  /** Ids of requests whose create (REST 201, or an ingest batch's 200) was acknowledged. */
  created: string[];
  /** Ids whose acknowledged ingest batch also completed them. */
  completed: string[];
  /** Calls due at the asked rate over the run. */
  due: number;
  /** Calls put on a socket. */
  sent: number;
  /** Calls due that found every connection's pipeline full (not sent). */
  skipped: number;
  /** Calls that failed without an answer (connection reset or refused, socket error). */
  errors: number;
  /** Calls still unanswered after the timeout. */
  timeouts: number;
  /** Calls whose connection was reset (a subset of errors). */
  resets: number;
  /** Answer p99 in ms, from when the call was sent. */
  p99Ms: number;
}

/** How many calls each connection may have outstanding (HTTP/1.1 pipelining). */
const PIPELINING = 8;
/** Long enough that only a server that stopped answering times out, however busy the machine. */
const TIMEOUT_MS = 60_000;

const [url = "", rateArg = "4000", connectionsArg = "200", secondsArg = "5", prefix = "p"] =
  process.argv.slice(2);
const RATE = Number(rateArg);
const CONNECTIONS = Number(connectionsArg);
const SECONDS = Number(secondsArg);

const tally: FloodTally = {
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
const latencies: number[] = [];
const pool = new Pool(url, {
  connections: CONNECTIONS,
  pipelining: PIPELINING,
  keepAliveTimeout: 120_000,
  headersTimeout: TIMEOUT_MS,
  bodyTimeout: TIMEOUT_MS,
});
const JSON_HEADERS = { "content-type": "application/json" };

/** One call of the mix (REST create, ingest lifecycle, list read), by the call's number. */
function nextCall(n: number): {
  method: "GET" | "POST";
  path: string;
  body?: string;
  id?: string;
  completes?: boolean;
} {
  const kind = n % 3;
  if (kind === 0) {
    const id = `req_flood_${prefix}_rest_${n}`;
    return {
      method: "POST",
      path: "/api/v1/requests",
      body: `{"id":"${id}","userId":"flood"}`,
      id,
    };
  }
  if (kind === 1) {
    const id = `req_flood_${prefix}_ingest_${n}`;
    return {
      method: "POST",
      path: "/api/v1/ingest",
      body:
        `{"ops":[{"opId":"c-${id}","type":"create","request":{"id":"${id}","userId":"flood"}},` +
        `{"opId":"r-${id}","type":"transition","requestId":"${id}","to":"running","workerId":"w"},` +
        `{"opId":"d-${id}","type":"transition","requestId":"${id}","to":"completed"}]}`,
      id,
      completes: true,
    };
  }
  return { method: "GET", path: "/api/v1/requests?limit=20" };
}

let outstanding = 0;
function send(n: number): Promise<void> {
  const call = nextCall(n);
  const sentAt = performance.now();
  outstanding += 1;
  tally.sent += 1;
  return pool
    .request({
      method: call.method,
      path: call.path,
      // Pipelined like GETs: a reset call is counted as an error and never as acknowledged,
      // so letting undici put a POST behind another on the same socket loses nothing.
      idempotent: true,
      blocking: false,
      ...(call.body === undefined ? {} : { body: call.body, headers: JSON_HEADERS }),
    })
    .then(async (response) => {
      await response.body.dump();
      const status = response.statusCode;
      latencies.push(performance.now() - sentAt);
      tally.statuses[status] = (tally.statuses[status] ?? 0) + 1;
      if (call.id !== undefined && (status === 200 || status === 201)) {
        tally.created.push(call.id);
        if (call.completes) tally.completed.push(call.id);
      }
    })
    .catch((error: { code?: string }) => {
      if (error.code === "UND_ERR_HEADERS_TIMEOUT" || error.code === "UND_ERR_BODY_TIMEOUT") {
        tally.timeouts += 1;
      } else {
        tally.errors += 1;
        if (error.code === "ECONNRESET" || error.code === "UND_ERR_SOCKET") tally.resets += 1;
      }
    })
    .finally(() => (outstanding -= 1));
}

const capacity = CONNECTIONS * PIPELINING;
const pending: Promise<void>[] = [];
const started = performance.now();
await new Promise<void>((resolve) => {
  const pace = setInterval(() => {
    const elapsed = performance.now() - started;
    const dueNow = Math.floor((Math.min(elapsed, SECONDS * 1000) / 1000) * RATE);
    for (; tally.due < dueNow; tally.due++) {
      if (outstanding >= capacity) tally.skipped += 1;
      else pending.push(send(tally.due));
    }
    if (elapsed >= SECONDS * 1000) {
      clearInterval(pace);
      resolve();
    }
  }, 2);
});
await Promise.all(pending);
await pool.close();
latencies.sort((a, b) => a - b);
tally.p99Ms = Math.round(latencies[Math.floor(latencies.length * 0.99)] ?? 0);
process.send?.(tally, () => process.exit(0));
