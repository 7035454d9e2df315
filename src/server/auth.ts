import type { FastifyRequest } from "fastify";
import { ForbiddenError, NotFoundError, UnauthorizedError } from "../core/errors.js";
import type { ApiKeyRole, RequestScope } from "../core/types.js";
import type { Tracker } from "../tracker/tracker.js";
import type { StreamTokens } from "./stream-tokens.js";

/** Who is calling: from the API key, or the implicit admin of an open (keyless) server. */
export interface Principal {
  keyId: string | null;
  role: ApiKeyRole;
  /** Null: every tenant (admin). Otherwise the only tenant this caller may see. */
  tenantId: string | null;
}

const RANK: Record<ApiKeyRole, number> = { viewer: 0, writer: 1, admin: 2 };

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyContextConfig {
    /** The lowest role that may call the route; routes without one are public (health, metrics). */
    role?: ApiKeyRole;
    /** The route also takes a stream token (`?token=`) in place of the key (EventSource). */
    streamToken?: boolean;
  }
}

const OPEN: Principal = Object.freeze({ keyId: null, role: "admin", tenantId: null });

/**
 * Whether a server that started without keys is still open. The first key created (here or
 * by `reqtrack keys create` against the same store) closes it for good, without a restart:
 * from then on every call needs a key, as an operator who just made one expects.
 */
export class KeylessState {
  constructor(
    private open: boolean,
    private readonly tracker: Tracker,
  ) {}

  get current(): boolean {
    return this.open;
  }

  async stillOpen(request: FastifyRequest): Promise<boolean> {
    if (!this.open) return false;
    if (await this.tracker.keys.anyActive()) {
      this.open = false;
      request.log.warn("an API key now exists: the API requires keys from here on");
    }
    return this.open;
  }
}

/**
 * Resolves the caller of a request. `open` servers (no key exists; they bind 127.0.0.1
 * only) treat every caller as admin until a key exists. Otherwise: no key or a bad or revoked key is 401,
 * a role below the route's is 403.
 */
export async function authenticate(
  request: FastifyRequest,
  tracker: Tracker,
  open: KeylessState,
  tokens?: StreamTokens,
): Promise<void> {
  const needed = request.routeOptions.config.role;
  if (needed === undefined) return;
  if (await open.stillOpen(request)) {
    request.principal = OPEN;
    return;
  }
  const header = request.headers.authorization;
  const token = (request.query as { token?: unknown } | undefined)?.token;
  if (!header && tokens && request.routeOptions.config.streamToken && typeof token === "string") {
    const principal = tokens.verify(token);
    if (!principal) throw new UnauthorizedError("The stream token is unknown or expired");
    if (RANK[principal.role] < RANK[needed]) throw new ForbiddenError(`This needs a ${needed} key`);
    request.principal = principal;
    return;
  }
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!match?.[1]) throw new UnauthorizedError();
  const key = await tracker.keys.verify(match[1]);
  if (!key) throw new UnauthorizedError("The API key is unknown or revoked");
  if (RANK[key.role] < RANK[needed]) {
    throw new ForbiddenError(`This needs a ${needed} key; this key is a ${key.role} key`);
  }
  request.principal = { keyId: key.id, role: key.role, tenantId: key.tenantId };
}

/** The tenant a query is confined to: the key's own, whatever the query asked for. */
export function tenantFilter(principal: Principal, asked: string | undefined): string | undefined {
  return principal.tenantId ?? asked;
}

/** A request of another tenant does not exist for this caller (404, never 403). */
export function assertVisible(
  principal: Principal,
  id: string,
  scope: Pick<RequestScope, "tenantId"> | null,
): void {
  if (!scope || (principal.tenantId !== null && scope.tenantId !== principal.tenantId)) {
    throw new NotFoundError(id);
  }
}

/** Looks up a request's scope and checks the caller may see it. */
export async function visibleScope(
  tracker: Tracker,
  principal: Principal,
  id: string,
): Promise<RequestScope> {
  const scope = await tracker.store.getScope(id);
  assertVisible(principal, id, scope);
  return scope as RequestScope;
}
