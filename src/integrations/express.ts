import type { IncomingMessage, ServerResponse } from "node:http";
import type { Tracker } from "../tracker/tracker.js";
import {
  firstHeader,
  HttpTracking,
  type HttpTrackingOptions,
  type TrackedCall,
} from "./http-core.js";

export type { HttpExtractor, HttpRequestInfo, HttpTrackingOptions } from "./http-core.js";
export type { RouteTable } from "./route-table.js";

/** What we read of a request: node:http's, plus what Express adds when it is there. */
type Req = IncomingMessage & {
  originalUrl?: string;
  baseUrl?: string;
  route?: { path?: unknown };
  body?: unknown;
};

type ErrorMiddleware = (e: unknown, req: IncomingMessage, res: ServerResponse, next: Next) => void;
type Next = (error?: unknown) => void;

/** Middleware for Express, or for plain node:http: `track(req, res, () => handler(req, res))`. */
export interface TrackingMiddleware {
  <R>(req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => R): R;
  /** Express error middleware that keeps the error message for the record; mount it last. */
  errors: ErrorMiddleware;
}

/**
 * Express (or node:http) middleware: tracks every `/api` call as a request and runs the rest
 * of the chain in its request scope. With plain node:http, a handler that throws or rejects
 * has its error recorded (and rethrown).
 *
 * @example
 * const track = reqtrack(tracker, { routes: { "POST /api/chat": "chat_message" } });
 * app.use(track); app.post("/api/chat", chat); app.use(track.errors);
 */
export function reqtrack(tracker: Tracker, options: HttpTrackingOptions = {}): TrackingMiddleware {
  const core = new HttpTracking(tracker, options, "reqtrack (reqtrack/express)");
  const calls = new WeakMap<IncomingMessage, TrackedCall>();
  const middleware = <R>(req: Req, res: ServerResponse, next: (error?: unknown) => R): R => {
    const call = core.begin({
      method: req.method ?? "GET",
      path: req.originalUrl ?? req.url ?? "/",
      // Parsed by a body parser mounted before this middleware (for `body` extractors).
      body: req.body,
      header: (name) => firstHeader(req.headers[name]),
    });
    if (!call) return next();
    calls.set(req, call);
    res.setHeader("X-Request-ID", call.id);
    call.bindEmitter(req);
    // Express routes after its middleware: the matched route is known only at the end. A
    // plain handler's rejection can reach us just after "finish": give it that turn.
    res.once("finish", () => setImmediate(() => call.end(res.statusCode, routeOf(req))));
    res.once("close", () => {
      if (!res.writableFinished) call.abort();
    });
    return call.run(() => {
      try {
        const result = next();
        // Still rejects for the caller: an unhandled rejection stays one.
        return isPromise(result) ? (result.catch((e) => fail(call, e)) as R) : result;
      } catch (error) {
        return fail(call, error);
      }
    });
  };
  const errors: ErrorMiddleware = (error, req, _res, next) => {
    calls.get(req)?.fail(error);
    next(error);
  };
  return Object.assign(middleware, { errors });
}

function fail(call: TrackedCall, error: unknown): never {
  call.fail(error);
  throw error;
}

function routeOf(req: Req): string | null {
  const path = req.route?.path;
  return typeof path === "string" ? `${req.baseUrl ?? ""}${path}` : null;
}

function isPromise(value: unknown): value is Promise<unknown> {
  return typeof (value as { catch?: unknown } | null)?.catch === "function";
}
