import { StoreUnavailableError } from "../core/errors.js";
import type { IngestResult } from "../tracker/ingest.js";
import { errorFromWire } from "./remote-errors.js";

export interface HttpOptions {
  url: string;
  apiKey: string | null;
  timeoutMs: number;
  fetch: typeof fetch;
}

/** Statuses that say "try again later" rather than "this call is wrong". */
const RETRY_LATER = new Set([408, 429]);

/**
 * JSON over HTTP to one reqtrack server. Every call either returns the parsed body or throws a
 * `ReqtrackError`: the server's own error for a 4xx, and `StoreUnavailableError` when the
 * server cannot be reached, does not answer within the timeout, or answers 5xx. That one class
 * is what the write path treats as "keep it in the outbox and retry".
 */
export class HttpTransport {
  constructor(private readonly options: HttpOptions) {}

  /** `requestId` names the request the call is about, for `NotFoundError`. */
  async call<T>(
    method: "GET" | "POST" | "PATCH" | "DELETE",
    path: string,
    body?: string,
    requestId?: string,
  ): Promise<T | null> {
    const { url, apiKey, timeoutMs } = this.options;
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (apiKey !== null) headers.authorization = `Bearer ${apiKey}`;
    let status: number;
    let text: string;
    try {
      const response = await this.options.fetch(`${url}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      const why =
        (error as Error)?.name === "TimeoutError"
          ? `no answer within ${timeoutMs} ms`
          : describe(error);
      throw new StoreUnavailableError(`reqtrack server ${url} is unreachable (${why})`, {
        cause: error,
      });
    }
    const data = parse(text);
    if (status >= 200 && status < 300) return data as T | null;
    const error = errorFromWire(data, status, requestId);
    // A spent budget (429 too) is an answer, not a busy server: the caller gets the error.
    const busy = RETRY_LATER.has(status) && error.code !== "RT_ERR_BUDGET_EXCEEDED";
    if (status >= 500 || busy) {
      throw new StoreUnavailableError(
        `reqtrack server ${url} answered ${status} (${error.code}: ${error.message})`,
        { cause: error },
      );
    }
    throw error;
  }

  /** POST /api/v1/ingest with ops that are already JSON; one result per op, in order. */
  async ingest(lines: readonly string[]): Promise<IngestResult[]> {
    const answer = await this.call<{ results?: IngestResult[] }>(
      "POST",
      "/api/v1/ingest",
      `{"ops":[${lines.join(",")}]}`,
    );
    return answer?.results ?? [];
  }
}

function parse(text: string): unknown {
  if (text.length === 0) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { message: text };
  }
}

/** fetch's own message is "fetch failed"; the useful part (ECONNREFUSED, ...) is in its cause. */
function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } })?.cause;
  const detail = typeof cause?.code === "string" ? cause.code : cause?.message;
  const message = error instanceof Error ? error.message : String(error);
  return typeof detail === "string" ? `${message}: ${detail}` : message;
}
