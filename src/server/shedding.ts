import { performance } from "node:perf_hooks";
import underPressure from "@fastify/under-pressure";
import type { FastifyInstance, FastifyReply } from "fastify";

/** When the server turns new calls away instead of queueing them without end. */
export interface SheddingOptions {
  /**
   * Event-loop delay (ms, averaged over `sampleIntervalMs`) above which calls are refused with
   * 503 RT_ERR_OVERLOADED. Off (0) unless set: the delay measures the whole process and the
   * machine, not this server's work. A server embedded in an app, or run on a machine whose
   * cores are shared, saw 1.8 s delays with nothing of its own waiting (the suite on a
   * 2-core machine at load average 15), and then refused every call, probes of its own
   * clients included. `maxInFlight` bounds this server's own work whatever the machine does;
   * set this too where the process has its cores to itself (e.g. 1000).
   */
  maxEventLoopDelayMs?: number;
  /**
   * The event-loop delay counts only while the loop was busy at least this share of the last
   * sample interval (its utilisation, 0-1). Default 0.8. A loop that lags while mostly idle
   * is waiting for cores other processes hold, and refusing calls would not help it; one that
   * lags while busy has more calls than it can serve, queued where the in-flight count never
   * sees them (in the kernel's socket buffers: each call runs to its first await before the
   * next is read, so a server with a full core of work still had a handful in flight).
   */
  minEventLoopUtilization?: number;
  /** How often the delay is sampled. Default 500 ms. */
  sampleIntervalMs?: number;
  /** What `Retry-After` says, in seconds. Default 2. */
  retryAfterSeconds?: number;
  /**
   * Calls being served at once (live streams and the probes excepted) past which a new call is
   * refused with 503 RT_ERR_OVERLOADED before its body is read. Default 256. This bounds the
   * work, and the memory, a flood can queue up in the process; the event-loop delay alone
   * lets thousands of calls pile up in the store's queue before the loop itself lags.
   */
  maxInFlight?: number;
}

/** Routes that must answer even under load: liveness, readiness (which reports it), metrics. */
const ALWAYS = new Set(["/healthz", "/readyz", "/metrics"]);
/** Routes that hold their call open for as long as the client listens: never counted. */
const LONG_LIVED = new Set(["/api/v1/stream"]);

/**
 * Load shedding with @fastify/under-pressure: past the limit a call gets a coded 503 with
 * Retry-After at once, which the remote client treats as "keep it in the outbox and retry",
 * so that a process overloaded 10x keeps answering in milliseconds instead of timing out.
 */
export async function registerShedding(
  app: FastifyInstance,
  options: SheddingOptions = {},
): Promise<void> {
  const retryAfter = options.retryAfterSeconds ?? 2;
  const sampleInterval = options.sampleIntervalMs ?? 500;
  const refuse = (reply: FastifyReply, why: string) =>
    reply
      .status(503)
      .header("retry-after", String(retryAfter))
      .send({
        code: "RT_ERR_OVERLOADED",
        message: `The server is overloaded (${why}); retry in ${retryAfter} s`,
      });
  limitInFlight(app, options.maxInFlight ?? 256, refuse);
  const maxDelay = options.maxEventLoopDelayMs ?? 0;
  const utilization = maxDelay > 0 ? sampleUtilization(app, sampleInterval) : () => 1;
  const minUtilization = options.minEventLoopUtilization ?? 0.8;
  // The first samples cover building the app (compiling schemas, opening the store), which
  // holds the loop for a whole interval on a busy machine: the plugin then reads "no sample"
  // as an infinite delay, and a server that just started shed its first calls (503) though
  // nothing was waiting. Only samples taken wholly after the app is ready count.
  let settled = false;
  app.addHook("onReady", async () => {
    setTimeout(() => (settled = true), 2 * sampleInterval).unref();
  });
  await app.register(underPressure, {
    maxEventLoopDelay: maxDelay,
    sampleInterval,
    // Returning without sending lets the call through (the plugin's documented contract).
    pressureHandler: (request, reply, type, value) => {
      if (!settled || ALWAYS.has(request.url.split("?")[0] ?? "")) return;
      const busy = utilization();
      if (type === "eventLoopDelay" && busy < minUtilization) return;
      void refuse(
        reply,
        `${type} ${Math.round(value ?? 0)} ms, loop ${Math.round(busy * 100)} % busy`,
      );
    },
  });
}

/** The event loop's utilisation over the last `interval` ms, sampled on a timer. */
function sampleUtilization(app: FastifyInstance, interval: number): () => number {
  let last = performance.eventLoopUtilization();
  let utilization = 0;
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    utilization = performance.eventLoopUtilization(now, last).utilization;
    last = now;
  }, interval).unref();
  app.addHook("onClose", async () => clearInterval(timer));
  return () => utilization;
}

/**
 * Counts the calls being served and refuses new ones past `max`. A call leaves the count when
 * its response closes (sent, or the connection dropped), which happens exactly once.
 */
function limitInFlight(
  app: FastifyInstance,
  max: number,
  refuse: (reply: FastifyReply, why: string) => FastifyReply,
): void {
  let inFlight = 0;
  app.addHook("onRequest", (request, reply, done) => {
    const route = request.routeOptions.url ?? "";
    if (ALWAYS.has(route) || LONG_LIVED.has(route)) return done();
    if (inFlight >= max) {
      refuse(reply, `${inFlight} calls in flight, limit ${max}`);
      return;
    }
    inFlight += 1;
    reply.raw.once("close", () => (inFlight -= 1));
    done();
  });
}
