import { createDefaultLogger, type Logger } from "../context/logger.js";
import { ValidationError } from "../core/errors.js";
import { checkOptions, functionOption, loggerOption } from "../core/option-check.js";
import { z } from "zod";
import { MAX_INGEST_OPS } from "../tracker/ingest.js";

/** Options of `createClient`. Only `url` is required; defaults live in `resolveClientOptions`. */
export interface ClientOptions {
  /** Base URL of a reqtrack server (`reqtrack serve`), e.g. "http://127.0.0.1:7600". */
  url: string;
  /** An API key (`reqtrack keys create`): writer to write, viewer to read. Omit for an open server. */
  apiKey?: string;
  /**
   * Where writes wait while the server is unreachable. With a file path they survive a restart
   * of the process, and the next client with the same path replays them. Default: in memory,
   * so they are lost if the process exits before the server is back.
   */
  outboxPath?: string;
  /** Queued writes are sent at least this often. Default 50 ms. */
  flushIntervalMs?: number;
  /** A batch is sent as soon as this many writes are queued; at most 1000. Default 500. */
  maxBatchOps?: number;
  /** A batch is also cut at this many bytes of JSON. Default 512 KiB (the server takes 1 MiB). */
  maxBatchBytes?: number;
  /** How long one HTTP call may take before the server counts as unreachable. Default 10 s. */
  requestTimeoutMs?: number;
  /** First retry of the outbox after a failure; doubles up to `maxReplayIntervalMs`. Default 250 ms. */
  replayIntervalMs?: number;
  /** Longest wait between outbox retries. Default 5000 ms. */
  maxReplayIntervalMs?: number;
  /** How long `close()` keeps trying to drain the outbox. Default 5000 ms. */
  closeTimeoutMs?: number;
  /** Epoch-ms clock that stamps each write (`at`). Default `Date.now`. */
  clock?: () => number;
  /** A fetch implementation. Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** A pino logger. Default: pino JSON on stdout at REQTRACK_LOG_LEVEL (default "info"). */
  logger?: Logger;
}

export interface ResolvedClientOptions {
  /** The URL without a trailing slash. */
  readonly url: string;
  readonly apiKey: string | null;
  readonly outboxPath: string | null;
  readonly flushIntervalMs: number;
  readonly maxBatchOps: number;
  readonly maxBatchBytes: number;
  readonly requestTimeoutMs: number;
  readonly replayIntervalMs: number;
  readonly maxReplayIntervalMs: number;
  readonly closeTimeoutMs: number;
  readonly clock: () => number;
  readonly fetch: typeof fetch;
  readonly logger: Logger;
}

/** Names and types of `ClientOptions` (`satisfies` keeps the two in step); ranges are below. */
const clientOptionsSchema = z
  .strictObject({
    url: z.unknown(),
    apiKey: z.string(),
    outboxPath: z.string(),
    flushIntervalMs: z.number(),
    maxBatchOps: z.number(),
    maxBatchBytes: z.number(),
    requestTimeoutMs: z.number(),
    replayIntervalMs: z.number(),
    maxReplayIntervalMs: z.number(),
    closeTimeoutMs: z.number(),
    clock: functionOption("() => epoch milliseconds"),
    fetch: functionOption("a fetch implementation"),
    logger: loggerOption,
  } satisfies Record<keyof ClientOptions, z.ZodType>)
  .partial();

/** Names users reach for that the client spells otherwise. */
const CLIENT_HINTS = {
  baseUrl: { option: "url" },
  key: { option: "apiKey" },
  token: { option: "apiKey" },
  timeout: { option: "requestTimeoutMs" },
  timeoutMs: { option: "requestTimeoutMs" },
  logLevel: {
    option: "logger",
    note: "pass a pino logger at the level you want, or set REQTRACK_LOG_LEVEL",
  },
  maxSize: { option: "maxBatchBytes" },
  batchSize: { option: "maxBatchOps" },
};

/**
 * Fills in defaults, checks the values, and freezes the result. An unknown option or a value
 * of the wrong type is a `ValidationError` naming the closest option.
 */
export function resolveClientOptions(options: ClientOptions): ResolvedClientOptions {
  checkOptions(clientOptionsSchema, options, { where: "createClient", hints: CLIENT_HINTS });
  const url = baseUrl(options?.url);
  const apiKey = options.apiKey ?? null;
  if (apiKey !== null && (typeof apiKey !== "string" || !/^\S+$/.test(apiKey))) {
    throw new ValidationError("apiKey", "must be a key such as rt_... (no spaces)");
  }
  const positive = (field: string, value: number | undefined, fallback: number) => {
    const v = value ?? fallback;
    if (!Number.isFinite(v) || v <= 0)
      throw new ValidationError(field, "must be a positive number");
    return v;
  };
  const maxBatchOps = positive("maxBatchOps", options.maxBatchOps, 500);
  if (!Number.isInteger(maxBatchOps) || maxBatchOps > MAX_INGEST_OPS) {
    throw new ValidationError("maxBatchOps", `must be an integer from 1 to ${MAX_INGEST_OPS}`);
  }
  const replayIntervalMs = positive("replayIntervalMs", options.replayIntervalMs, 250);
  return Object.freeze({
    url,
    apiKey,
    outboxPath: options.outboxPath ?? null,
    flushIntervalMs: positive("flushIntervalMs", options.flushIntervalMs, 50),
    maxBatchOps,
    maxBatchBytes: positive("maxBatchBytes", options.maxBatchBytes, 512 * 1024),
    requestTimeoutMs: positive("requestTimeoutMs", options.requestTimeoutMs, 10_000),
    replayIntervalMs,
    maxReplayIntervalMs: Math.max(
      replayIntervalMs,
      positive("maxReplayIntervalMs", options.maxReplayIntervalMs, 5000),
    ),
    closeTimeoutMs: positive("closeTimeoutMs", options.closeTimeoutMs, 5000),
    clock: options.clock ?? Date.now,
    fetch: options.fetch ?? globalThis.fetch,
    logger: options.logger ?? createDefaultLogger(),
  });
}

function baseUrl(raw: unknown): string {
  let url: URL | null = null;
  try {
    url = typeof raw === "string" ? new URL(raw) : null;
  } catch {
    // reported below
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new ValidationError("url", "must be an http(s) URL such as http://127.0.0.1:7600");
  }
  return url.href.replace(/\/+$/, "");
}
