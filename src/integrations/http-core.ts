import { parseTraceParent, traceIdFor } from "../context/trace-parent.js";
import { ValidationError } from "../core/errors.js";
import { newRequestId } from "../core/ids.js";
import { checkOptions, functionOption, hasMethods } from "../core/option-check.js";
import { z } from "zod";
import type { Tracker } from "../tracker/tracker.js";
import { type TrustedCalls, beginTrustedCall, trustedCallsOf } from "../tracker/trusted-calls.js";
import { RouteMatcher, type RouteTable } from "./route-table.js";
import { TrackedCall } from "./tracked-call.js";

export type { TrackedCall } from "./tracked-call.js";

/** A request as the options' extractors and `skip` see it. */
export interface HttpRequestInfo {
  method: string;
  /** The path, without the query string. */
  path: string;
  /** The route pattern (`/api/entities/:id`), when known. */
  route: string | null;
  params: Readonly<Record<string, string>>;
  /** The query string's values (the first of a repeated name). */
  query: Readonly<Record<string, string>>;
  /**
   * The parsed body, when some extractor names a `body` field (the call is then recorded once
   * the body is parsed); else undefined.
   */
  body: unknown;
  /** A request header by lower-case name. */
  header(name: string): string | undefined;
}

/**
 * Where a value comes from: a route param, else a query parameter, else a field of the JSON
 * body, else a header (the first that is there); or a function of the request. A chat API
 * whose JSON body carries its tenant and session: `{ body: "entity_id" }`, `{ body: "session_id" }`.
 */
export type HttpExtractor =
  | { param?: string; query?: string; body?: string; header?: string }
  | ((request: HttpRequestInfo) => string | null | undefined);

/** Options of every HTTP adapter (`reqtrack/fastify`, `reqtrack/express`, `reqtrack/hono`). */
export interface HttpTrackingOptions {
  /** Operation type by `"METHOD /route/:pattern"`; see `RouteTable`. */
  routes?: RouteTable;
  /** The kind of a route the table does not name. Default "other". */
  defaultKind?: string;
  /** The tenant (entity, org, guild): e.g. `{ param: "entityId", header: "x-tenant-id" }`. */
  tenant?: HttpExtractor;
  session?: HttpExtractor;
  /** The user. Default "anonymous". */
  user?: HttpExtractor;
  /** Requests to leave alone. Default: every path outside `/api`. */
  skip?: (request: { method: string; path: string }) => boolean;
  /** Kept as the request's `source`. Default "http". */
  source?: string;
}

const extractor = z.union(
  [
    z
      .strictObject({ param: z.string(), query: z.string(), body: z.string(), header: z.string() })
      .partial(),
    functionOption("(request) => string"),
  ],
  { error: "must be { param, query, body, header } or a function of the request" },
);

/** Names and types of `HttpTrackingOptions` (`satisfies` keeps the two in step). */
export const httpTrackingOptionsSchema = z
  .strictObject({
    routes: z.record(z.string(), z.string()),
    defaultKind: z.string(),
    tenant: extractor,
    session: extractor,
    user: extractor,
    skip: functionOption("({ method, path }) => boolean"),
    source: z.string(),
  } satisfies Record<keyof HttpTrackingOptions, z.ZodType>)
  .partial();

const HTTP_HINTS = {
  kinds: { option: "routes" },
  routeTable: { option: "routes" },
  operations: { option: "routes" },
  exclude: { option: "skip" },
  ignore: { option: "skip" },
};

/**
 * Checks the arguments of a middleware factory when the middleware is made, so that a wrong
 * call fails there with a message that shows the right one, not later inside a request.
 */
export function checkHttpTracking(where: string, tracker: unknown, options: unknown): void {
  if (!hasMethods(tracker, ["createRequest", "startRequest", "subscribe"])) {
    const wrapped = typeof tracker === "object" && tracker !== null && "tracker" in tracker;
    throw new ValidationError(
      "tracker",
      wrapped
        ? `${where} takes the tracker as its first argument, not inside the options: write reqtrack(tracker, { routes, ... })`
        : `${where} needs a Tracker from createTracker() (got ${tracker === null ? "null" : typeof tracker})`,
    );
  }
  checkOptions(httpTrackingOptionsSchema, options, { where, hints: HTTP_HINTS });
}

/** What an adapter hands over at the start of a call. */
export interface HttpCallStart {
  method: string;
  /** The URL path; a query string is cut off here. */
  path: string;
  /** The framework's matched route pattern, if it knows it already. */
  route?: string | null;
  params?: Readonly<Record<string, unknown>>;
  /** The parsed body, if the framework has it by now. */
  body?: unknown;
  header(name: string): string | undefined;
}

/** X-Request-ID values we take as ours: the store's id rule, so they begin alphanumeric. */
const INCOMING_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const skipOutsideApi = ({ path }: { path: string }) =>
  !(path === "/api" || path.startsWith("/api/"));

/**
 * The framework-neutral core of the HTTP middleware: decides the id, kind, tenant and session
 * of a call, records it, runs the handler in its request scope and records how it ended.
 * Never throws: a tracking failure is logged and the app's response goes on untouched.
 */
export class HttpTracking {
  private readonly routes: RouteMatcher;
  /** Some extractor may read route params: only then are they worked out for each call. */
  private readonly wantsParams: boolean;
  private readonly wantsQuery: boolean;
  /** The tracker's unparsed entry points (see trusted-calls.ts); null: the public methods. */
  private readonly trusted: TrustedCalls | null;
  /**
   * Some extractor reads the body: adapters then begin the call once the body is parsed
   * (Fastify: preValidation; Hono: parses JSON itself; Express: mount a body parser first).
   */
  readonly wantsBody: boolean;
  private readonly options: Readonly<
    Required<Omit<HttpTrackingOptions, "routes" | "tenant" | "session" | "user">> &
      Pick<HttpTrackingOptions, "tenant" | "session" | "user">
  >;

  constructor(
    readonly tracker: Tracker,
    options: HttpTrackingOptions = {},
    where = "reqtrack",
  ) {
    checkHttpTracking(where, tracker, options);
    this.trusted = trustedCallsOf(tracker);
    this.routes = new RouteMatcher(options.routes);
    this.options = Object.freeze({
      defaultKind: options.defaultKind ?? "other",
      skip: options.skip ?? skipOutsideApi,
      source: options.source ?? "http",
      tenant: options.tenant,
      session: options.session,
      user: options.user,
    });
    const extractors = [options.tenant, options.session, options.user];
    this.wantsParams = extractors.some(
      (from) => typeof from === "function" || from?.param !== undefined,
    );
    this.wantsQuery = extractors.some(
      (from) => typeof from === "function" || from?.query !== undefined,
    );
    this.wantsBody = extractors.some((from) => typeof from === "object" && from.body !== undefined);
  }

  /** Starts tracking a call; null when it is skipped (or could not be tracked). */
  begin(start: HttpCallStart): TrackedCall | null {
    try {
      const path = pathOnly(start.path);
      const method = start.method.toUpperCase();
      if (this.options.skip({ method, path })) return null;
      const incoming = start.header("x-request-id");
      const id = incoming && INCOMING_ID.test(incoming) ? incoming : newRequestId();
      const traceparent = start.header("traceparent");
      const correlation = start.header("x-correlation-id");
      const correlationId =
        parseTraceParent(traceparent)?.traceId ??
        (correlation && INCOMING_ID.test(correlation) ? correlation : traceIdFor(id, null));
      const given = start.params ? stringsOf(start.params) : undefined;
      const resolved = this.routes.resolve(method, path, start.route, this.wantsParams && !given);
      const info: HttpRequestInfo = {
        method,
        path,
        route: resolved.route,
        params: given ?? resolved.params,
        query: this.wantsQuery ? queryOf(start.path) : {},
        body: start.body,
        header: start.header,
      };
      const call = new TrackedCall(
        this.tracker,
        this.trusted,
        id,
        method,
        resolved.route,
        correlationId,
        traceparent,
      );
      const input = {
        id,
        userId: this.extract(this.options.user, info) ?? "anonymous",
        kind: resolved.kind ?? this.options.defaultKind,
        tenantId: this.extract(this.options.tenant, info),
        sessionId: this.extract(this.options.session, info),
        source: this.options.source,
        correlationId,
        input: { method, route: resolved.route },
      };
      if (this.trusted) {
        call.record(this.trusted[beginTrustedCall](input));
      } else {
        call.record(this.tracker.createRequest(input));
        call.record(this.tracker.startRequest(id));
      }
      return call;
    } catch (error) {
      this.tracker.logger.warn({ err: error }, "request tracking failed to start");
      return null;
    }
  }

  private extract(from: HttpExtractor | undefined, info: HttpRequestInfo): string | undefined {
    if (!from) return undefined;
    const value =
      typeof from === "function"
        ? from(info)
        : ((from.param ? info.params[from.param] : undefined) ??
          (from.query ? info.query[from.query] : undefined) ??
          (from.body ? bodyField(info.body, from.body) : undefined) ??
          (from.header ? info.header(from.header.toLowerCase()) : undefined));
    // Over-long or empty values would fail validation and lose the whole record.
    return typeof value === "string" && value.length > 0 && value.length <= 256 ? value : undefined;
  }
}

function queryOf(url: string): Record<string, string> {
  const at = url.indexOf("?");
  const out: Record<string, string> = {};
  if (at === -1) return out;
  for (const [name, value] of new URLSearchParams(url.slice(at + 1))) out[name] ??= value;
  return out;
}

/** A top-level string (or number) field of a JSON object body. */
function bodyField(body: unknown, field: string): string | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
  const value = (body as Record<string, unknown>)[field];
  return typeof value === "string" ? value : typeof value === "number" ? String(value) : undefined;
}

function pathOnly(url: string): string {
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}

/** The first value of a node:http header. */
export function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function stringsOf(params: Readonly<Record<string, unknown>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (params) for (const [k, v] of Object.entries(params)) if (typeof v === "string") out[k] = v;
  return out;
}
