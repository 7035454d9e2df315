import { type Price, type PriceInput, priceInputSchema } from "../core/prices.js";
import { parse, requestId } from "../core/schemas.js";
import type { Request, RequestStatus } from "../core/types.js";
import {
  type BulkReplayOptions,
  bulkOptionsSchema,
  type Comparison,
  type ReplayFilterInput,
  type ReplayJob,
  type ReplayOptions,
  replayFilterSchema,
  replayOptionsSchema,
} from "../tracker/replay.js";
import type { HttpTransport } from "./http.js";
import { reviveRequest } from "./revive.js";

type Json = Record<string, unknown>;
const at = (value: unknown) => new Date(value as string);
const path = (id: string) => encodeURIComponent(id);

/**
 * Replays over HTTP, in the library's shapes: `client.replay()`, and `client.replays` for a
 * request's replays, comparisons and bulk jobs. Inputs are checked here as the library checks
 * them, so a mistake fails before any call.
 */
export class RemoteReplays {
  constructor(private readonly http: HttpTransport) {}

  async replay(id: string, options: ReplayOptions = {}): Promise<Request> {
    const body = parse(replayOptionsSchema, options, "options");
    const made = await this.http.call<unknown>(
      "POST",
      `/api/v1/requests/${path(parse(requestId, id, "id"))}/replay`,
      JSON.stringify(body),
      id,
    );
    return reviveRequest(made);
  }

  /** The replays of a request, oldest first. */
  async of(id: string): Promise<{ id: string; status: RequestStatus; createdAt: Date }[]> {
    const answer = await this.http.call<{ items: Json[] }>(
      "GET",
      `/api/v1/requests/${path(parse(requestId, id, "id"))}/replays`,
      undefined,
      id,
    );
    return (answer?.items ?? []).map((r) => ({
      id: r.id as string,
      status: r.status as RequestStatus,
      createdAt: at(r.createdAt),
    }));
  }

  async compare(leftId: string, rightId: string): Promise<Comparison> {
    const left = parse(requestId, leftId, "id");
    const right = parse(requestId, rightId, "otherId");
    const answer = (await this.http.call<Json>(
      "GET",
      `/api/v1/requests/${path(left)}/compare/${path(right)}`,
    )) as Json;
    const side = (s: Json) => ({ ...s, createdAt: at(s.createdAt) });
    return {
      ...answer,
      left: side(answer.left as Json),
      right: side(answer.right as Json),
    } as unknown as Comparison;
  }

  /** Starts a bulk replay on the server (it runs there); poll `job()` for its progress. */
  async start(filter: ReplayFilterInput, options: BulkReplayOptions = {}): Promise<ReplayJob> {
    const body = {
      filter: parse(replayFilterSchema, filter, "filter"),
      ...parse(bulkOptionsSchema, options, "options"),
    };
    return reviveJob(await this.http.call<Json>("POST", "/api/v1/replays", JSON.stringify(body)));
  }

  async job(id: string): Promise<ReplayJob | null> {
    try {
      return reviveJob(await this.http.call<Json>("GET", `/api/v1/replays/${path(id)}`));
    } catch (error) {
      if ((error as { code?: string }).code === "RT_ERR_NOT_FOUND") return null;
      throw error;
    }
  }
}

/** The price table over HTTP: anyone may read it, an admin key changes it. */
export class RemotePrices {
  constructor(private readonly http: HttpTransport) {}

  async list(options: { service?: string } = {}): Promise<Price[]> {
    const query = options.service !== undefined ? `?service=${path(options.service)}` : "";
    const answer = await this.http.call<{ items: Json[] }>("GET", `/api/v1/prices${query}`);
    return (answer?.items ?? []).map(revivePrice);
  }

  async set(input: PriceInput): Promise<Price> {
    const body = parse(priceInputSchema, input, "price");
    return revivePrice(
      (await this.http.call<Json>("POST", "/api/v1/prices", JSON.stringify(body))) as Json,
    );
  }

  /** False when no price has that id. */
  async delete(id: string): Promise<boolean> {
    try {
      await this.http.call("DELETE", `/api/v1/prices/${path(id)}`);
      return true;
    } catch (error) {
      if ((error as { code?: string }).code === "RT_ERR_NOT_FOUND") return false;
      throw error;
    }
  }
}

function reviveJob(raw: Json | null): ReplayJob {
  const job = raw as Json;
  return { ...job, createdAt: at(job.createdAt), updatedAt: at(job.updatedAt) } as ReplayJob;
}

function revivePrice(raw: Json): Price {
  return { ...raw, effectiveFrom: at(raw.effectiveFrom), createdAt: at(raw.createdAt) } as Price;
}
