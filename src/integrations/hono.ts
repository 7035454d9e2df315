import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { Tracker } from "../tracker/tracker.js";
import { HttpTracking, type HttpTrackingOptions } from "./http-core.js";

export type { HttpExtractor, HttpRequestInfo, HttpTrackingOptions } from "./http-core.js";
export type { RouteTable } from "./route-table.js";

/**
 * Hono middleware: tracks every `/api` call as a request (id, kind, tenant, status code,
 * processing time, costs, error on 5xx) and runs the handler in its request scope.
 *
 * @example
 * app.use(reqtrack(tracker, { routes: { "POST /api/chat": "chat_message" } }));
 */
export function reqtrack(tracker: Tracker, options: HttpTrackingOptions = {}): MiddlewareHandler {
  const core = new HttpTracking(tracker, options, "reqtrack (reqtrack/hono)");
  return async (c, next) => {
    // Hono keeps the parsed body, so the handler can read it again.
    const body =
      core.wantsBody && c.req.header("content-type")?.includes("json")
        ? await c.req.json().catch(() => undefined)
        : undefined;
    const call = core.begin({
      method: c.req.method,
      path: withQuery(c.req.path, c.req.url),
      body,
      route: handlerRoute(c),
      header: (name) => c.req.header(name),
    });
    if (!call) return next();
    c.header("X-Request-ID", call.id);
    await call.run(next);
    if (c.error) call.fail(c.error);
    call.end(c.res.status);
    // A handler that built its own Response skipped the headers set through `c`.
    try {
      if (!c.res.headers.has("X-Request-ID")) c.res.headers.set("X-Request-ID", call.id);
    } catch {
      // Immutable headers (a proxied fetch Response): the id stays off this response.
    }
  };
}

/** The path with the URL's query string, for `query` extractors. */
function withQuery(path: string, url: string): string {
  const query = url.indexOf("?");
  return query === -1 ? path : path + url.slice(query);
}

/** The pattern of the handling route: the last match registered for a method (`app.use` is "ALL"). */
function handlerRoute(c: Parameters<MiddlewareHandler>[0]): string | null {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const route = routes[i];
    if (route && route.method !== "ALL") return route.path;
  }
  return null;
}
