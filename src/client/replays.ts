import type { Price, PriceInput } from "../core/prices.js";
import { parse, requestId } from "../core/schemas.js";
import type { Request } from "../core/types.js";
import type { Comparison, CompareSide, ReplayOptions } from "../tracker/replay.js";
import type { HttpTransport } from "./http.js";
import { reviveRequest } from "./revive.js";

/** What `setPrice` takes over HTTP: the library's price row, `effectiveFrom` as a Date too. */
export type RemotePriceInput = Omit<PriceInput, "effectiveFrom"> & {
  effectiveFrom?: Date | number | string;
};

type Json = Record<string, unknown>;
const path = encodeURIComponent;

/**
 * Replay, compare and the price table over the REST API. A replay is created on the server
 * at once (it is budget-checked there), so these calls never wait in the outbox.
 */
export class RemoteReplays {
  constructor(private readonly http: HttpTransport) {}

  async replay(id: string, options: ReplayOptions = {}): Promise<Request> {
    const rid = parse(requestId, id, "id");
    const answer = await this.http.call<unknown>(
      "POST",
      `/api/v1/requests/${path(rid)}/replay`,
      JSON.stringify(options),
      rid,
    );
    return reviveRequest(answer);
  }

  async compare(id: string, otherId: string): Promise<Comparison> {
    const left = parse(requestId, id, "id");
    const right = parse(requestId, otherId, "otherId");
    const answer = (await this.http.call<Json>(
      "GET",
      `/api/v1/requests/${path(left)}/compare/${path(right)}`,
      undefined,
      left,
    )) as Json;
    return {
      ...answer,
      left: reviveSide(answer.left as Json),
      right: reviveSide(answer.right as Json),
    } as Comparison;
  }

  async listPrices(options: { service?: string } = {}): Promise<Price[]> {
    const query = options.service !== undefined ? `?service=${path(options.service)}` : "";
    const answer = await this.http.call<{ items: Json[] }>("GET", `/api/v1/prices${query}`);
    return (answer?.items ?? []).map(revivePrice);
  }

  async setPrice(input: RemotePriceInput): Promise<Price> {
    const { effectiveFrom, ...rest } = input;
    const body = {
      ...rest,
      ...(effectiveFrom !== undefined ? { effectiveFrom: iso(effectiveFrom) } : {}),
    };
    const answer = await this.http.call<Json>("POST", "/api/v1/prices", JSON.stringify(body));
    return revivePrice(answer as Json);
  }

  async deletePrice(id: string): Promise<void> {
    await this.http.call("DELETE", `/api/v1/prices/${path(id)}`);
  }
}

const iso = (at: Date | number | string) =>
  typeof at === "string" ? at : new Date(at).toISOString();

function reviveSide(raw: Json): CompareSide {
  return { ...raw, createdAt: new Date(raw.createdAt as string) } as unknown as CompareSide;
}

function revivePrice(raw: Json): Price {
  return {
    ...raw,
    effectiveFrom: new Date(raw.effectiveFrom as string),
    createdAt: new Date(raw.createdAt as string),
  } as unknown as Price;
}
