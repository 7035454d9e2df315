/**
 * One process of the overload test's flood (test/reliability/overload.test.ts forks several:
 * in one process, autocannon sent 2,240 to 6,539 of the 8,000 calls/s asked).
 *
 * argv: <base url> <calls per second> <connections> <seconds> <id prefix>. It sends the parent
 * one `FloodTally` over IPC when its run ends, then exits.
 */
import autocannon from "autocannon";

/** What one flood process sent and what the server acknowledged. */
export interface FloodTally {
  /** Answers by HTTP status. */
  statuses: Record<number, number>;
  /** Ids of requests whose create (REST 201, or an ingest batch's 200) was acknowledged. */
  created: string[];
  /** Ids whose acknowledged ingest batch also completed them. */
  completed: string[];
  sent: number;
  errors: number;
  timeouts: number;
  resets: number;
  p99Ms: number;
}

/** The flood's calls: REST creates, ingest lifecycles and list reads, each id unique. */
function floodRequests(prefix: string, tally: FloodTally): autocannon.Request[] {
  let n = 0;
  /** autocannon's per-connection context, where a call keeps the id it sent. */
  type Context = { id?: string };
  const count = (status: number) => (tally.statuses[status] = (tally.statuses[status] ?? 0) + 1);
  const acknowledge = (status: number, id: string, done: boolean) => {
    count(status);
    if (status !== 200 && status !== 201) return;
    tally.created.push(id);
    if (done) tally.completed.push(id);
  };
  return [
    {
      method: "POST",
      path: "/api/v1/requests",
      headers: { "content-type": "application/json" },
      setupRequest: (request, context: Context) => {
        context.id = `req_flood_${prefix}_rest_${n++}`;
        return { ...request, body: JSON.stringify({ id: context.id, userId: "flood" }) };
      },
      onResponse: (status, _body, context: Context) =>
        acknowledge(status, String(context.id), false),
    },
    {
      method: "POST",
      path: "/api/v1/ingest",
      headers: { "content-type": "application/json" },
      setupRequest: (request, context: Context) => {
        const id = `req_flood_${prefix}_ingest_${n++}`;
        context.id = id;
        const ops = [
          { opId: `c-${id}`, type: "create", request: { id, userId: "flood" } },
          { opId: `r-${id}`, type: "transition", requestId: id, to: "running", workerId: "w" },
          { opId: `d-${id}`, type: "transition", requestId: id, to: "completed" },
        ];
        return { ...request, body: JSON.stringify({ ops }) };
      },
      onResponse: (status, _body, context: Context) =>
        acknowledge(status, String(context.id), true),
    },
    { method: "GET", path: "/api/v1/requests?limit=20", onResponse: (status) => count(status) },
  ];
}

const [url = "", rate = "4000", connections = "200", seconds = "5", prefix = "p"] =
  process.argv.slice(2);
const tally: FloodTally = {
  statuses: {},
  created: [],
  completed: [],
  sent: 0,
  errors: 0,
  timeouts: 0,
  resets: 0,
  p99Ms: 0,
};
const result = await autocannon({
  url,
  connections: Number(connections),
  overallRate: Number(rate),
  duration: Number(seconds),
  // Long enough that only a server that stopped answering times out, however busy the
  // machine: the figures say how fast it was, the assertions what it did.
  timeout: 60,
  requests: floodRequests(prefix, tally),
});
Object.assign(tally, {
  sent: result.requests.total,
  errors: result.errors,
  timeouts: result.timeouts,
  resets: result.resets,
  p99Ms: result.latency.p99,
});
process.send?.(tally, () => process.exit(0));
