import underPressure from "@fastify/under-pressure";
import type { FastifyInstance } from "fastify";

/** When the server turns new calls away instead of queueing them without end. */
export interface SheddingOptions {
  /**
   * Event-loop delay (ms, averaged over `sampleIntervalMs`) above which calls are refused with
   * 503 RT_ERR_OVERLOADED. Default 1000: far above what a healthy server shows (under 10 ms),
   * reached only when work arrives faster than the process can do it.
   */
  maxEventLoopDelayMs?: number;
  /** How often the delay is sampled. Default 500 ms. */
  sampleIntervalMs?: number;
  /** What `Retry-After` says, in seconds. Default 2. */
  retryAfterSeconds?: number;
}

/** Routes that must answer even under load: liveness, readiness (which reports it), metrics. */
const ALWAYS = new Set(["/healthz", "/readyz", "/metrics"]);

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
  // The first samples cover building the app (compiling schemas, opening the store), which
  // holds the loop for a whole interval on a busy machine: the plugin then reads "no sample"
  // as an infinite delay, and a server that just started shed its first calls (503) though
  // nothing was waiting. Only samples taken wholly after the app is ready count.
  let settled = false;
  app.addHook("onReady", async () => {
    setTimeout(() => (settled = true), 2 * sampleInterval).unref();
  });
  await app.register(underPressure, {
    maxEventLoopDelay: options.maxEventLoopDelayMs ?? 1000,
    sampleInterval,
    // Returning without sending lets the call through (the plugin's documented contract).
    pressureHandler: (request, reply, type, value) => {
      if (!settled || ALWAYS.has(request.url.split("?")[0] ?? "")) return;
      void reply
        .status(503)
        .header("retry-after", String(retryAfter))
        .send({
          code: "RT_ERR_OVERLOADED",
          message: `The server is overloaded (${type} ${Math.round(value ?? 0)}); retry in ${retryAfter} s`,
        });
    },
  });
}
