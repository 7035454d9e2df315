import type { FastifyInstance } from "fastify";
import { median } from "./harness.js";

/** Calls of each distinct URL, after the warm-ups (prepared statements, page cache). */
const CALLS = 20;
const WARMUP = 2;

export interface CallTimes {
  route: string;
  calls: number;
  p50: number;
  p99: number;
  /** Each URL of the route on its own, slowest p99 first. */
  urls: { url: string; p50: number; p99: number }[];
}

/** The p99 of `values` (nearest rank). */
export function p99(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)] as number;
}

/**
 * Each URL a page called, alone: one call at a time through `app.inject`, nothing else in
 * flight in this process. The browser's figures include the page's other calls queueing on
 * the same event loop (SQLite reads are synchronous); these are the query's own cost.
 * `urls` maps a route (ids replaced by ":id") to the URLs seen for it; the times of a route's
 * URLs are pooled.
 */
export async function singleCallTimes(
  app: FastifyInstance,
  urls: ReadonlyMap<string, ReadonlySet<string>>,
): Promise<CallTimes[]> {
  const out: CallTimes[] = [];
  for (const [route, seen] of urls) {
    const times: number[] = [];
    const byUrl: CallTimes["urls"] = [];
    for (const url of seen) {
      const own: number[] = [];
      for (let i = 0; i < WARMUP + CALLS; i++) {
        const started = performance.now();
        const response = await app.inject({ url });
        const ms = performance.now() - started;
        if (response.statusCode >= 400) {
          throw new Error(`${url} answered ${response.statusCode}: ${response.body}`);
        }
        if (i >= WARMUP) own.push(ms);
      }
      times.push(...own);
      byUrl.push({ url, p50: median(own), p99: p99(own) });
    }
    byUrl.sort((a, b) => b.p99 - a.p99);
    out.push({ route, calls: times.length, p50: median(times), p99: p99(times), urls: byUrl });
  }
  return out.sort((a, b) => b.p99 - a.p99);
}
