import { ReqtrackError } from "../core/errors.js";
import { type ListRequestsInput, listFilterSchema, nameSchema, parse } from "../core/schemas.js";
import type { Page, Request, RequestEvent, RequestRecord } from "../core/types.js";
import type { ClaimOptions, QueueDepth } from "../tracker/queue.js";
import type { HttpTransport } from "./http.js";
import { reviveEvent, revivePage, reviveRequest } from "./revive.js";

/** `claimNext` options over HTTP: the tenant comes from the API key, never from the caller. */
export type RemoteClaimOptions = Omit<ClaimOptions, "tenantId">;

/**
 * The read side of the REST API (and the two queue calls, which cannot wait in an outbox:
 * they are about now). Answers come back in the library's shapes, `Date`s included.
 */
export class RemoteReads {
  constructor(private readonly http: HttpTransport) {}

  async getRequest(id: string): Promise<Request | null> {
    const found = await notFoundAs(null, () =>
      this.http.call<unknown>("GET", `/api/v1/requests/${path(id)}`, undefined, id),
    );
    if (found === null) return null;
    // The library's Request has no `replays` list (the server's detail answer does).
    const { replays: _, ...request } = found as { replays?: unknown };
    return reviveRequest(request);
  }

  async getEvents(id: string): Promise<RequestEvent[]> {
    const answer = await notFoundAs(null, () =>
      this.http.call<{ items: unknown[] }>(
        "GET",
        `/api/v1/requests/${path(id)}/events`,
        undefined,
        id,
      ),
    );
    return (answer?.items ?? []).map(reviveEvent);
  }

  async listRequests(filter: ListRequestsInput): Promise<Page<RequestRecord>> {
    const data = parse(listFilterSchema, filter, "filter");
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(data)) {
      if (value === undefined) continue;
      if (Array.isArray(value)) query.set(key, value.join(","));
      else if (value instanceof Date) query.set(key, String(value.getTime()));
      else query.set(key, String(value));
    }
    return revivePage(await this.http.call<unknown>("GET", `/api/v1/requests?${query}`));
  }

  async claimNext(options: RemoteClaimOptions): Promise<Request | null> {
    const body = {
      workerId: parse(nameSchema, options?.workerId, "workerId"),
      ...(options.kinds !== undefined ? { kinds: options.kinds } : {}),
      ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
    };
    const answer = await this.http.call<{ request: unknown }>(
      "POST",
      "/api/v1/queue/claim",
      JSON.stringify(body),
    );
    return answer?.request ? reviveRequest(answer.request) : null;
  }

  async heartbeat(id: string, workerId: string): Promise<boolean> {
    const body = JSON.stringify({ workerId: parse(nameSchema, workerId, "workerId") });
    const answer = await notFoundAs({ alive: false }, () =>
      this.http.call<{ alive: boolean }>("POST", `/api/v1/queue/${path(id)}/heartbeat`, body, id),
    );
    return answer?.alive === true;
  }

  async queueDepth(): Promise<QueueDepth> {
    return (await this.http.call<QueueDepth>("GET", "/api/v1/queue/depth")) as QueueDepth;
  }
}

/** The library answers "unknown id" with null / [] / false rather than an error; so does this. */
async function notFoundAs<T, F>(fallback: F, call: () => Promise<T>): Promise<T | F> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ReqtrackError && error.code === "RT_ERR_NOT_FOUND") return fallback;
    throw error;
  }
}

const path = encodeURIComponent;
