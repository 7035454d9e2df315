import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from "fastify";
import { ValidationError } from "../core/errors.js";
import { hasMethods } from "../core/option-check.js";
import type { Tracker } from "../tracker/tracker.js";
import {
  firstHeader,
  HttpTracking,
  type HttpTrackingOptions,
  type TrackedCall,
} from "./http-core.js";

export type { HttpExtractor, HttpRequestInfo, HttpTrackingOptions } from "./http-core.js";
export type { RouteTable } from "./route-table.js";

/** Options of the Fastify plugin: the tracker, plus the shared HTTP options. */
export interface FastifyTrackingOptions extends HttpTrackingOptions {
  tracker: Tracker;
}

const calls = new WeakMap<FastifyRequest, TrackedCall>();

/**
 * Fastify plugin: tracks every `/api` call as a request (id, kind, tenant, status code,
 * processing time, costs, error on 5xx) and runs its handler in the request scope. Its hooks
 * apply to the whole app, like a `fastify-plugin` plugin.
 *
 * @example
 * await app.register(reqtrack, { tracker, routes: { "POST /api/chat": "chat_message" } });
 */
export const reqtrack: FastifyPluginCallback<FastifyTrackingOptions> = (app, options, done) => {
  if (!hasMethods(app, ["addHook", "register"])) {
    throw new ValidationError(
      "app",
      "reqtrack/fastify is a plugin: register it with app.register(reqtrack, { tracker, ... }) instead of calling it",
    );
  }
  let core: HttpTracking;
  try {
    core = trackingOf(options);
  } catch (error) {
    // Handed to Fastify, so that `register` (or `ready`) rejects with it.
    return done(error as Error);
  }
  const begin = (request: FastifyRequest, reply: FastifyReply, next: () => void) => {
    const call = core.begin({
      method: request.method,
      path: request.url,
      route: request.routeOptions.url ?? null,
      params: request.params as Record<string, unknown>,
      body: request.body,
      header: (name) => firstHeader(request.headers[name]),
    });
    if (!call) return next();
    calls.set(request, call);
    reply.header("x-request-id", call.id);
    call.run(next);
  };
  // With a `body` extractor the call begins once the body is parsed (a body that fails to
  // parse is then not tracked); else at once.
  if (!core.wantsBody) app.addHook("onRequest", begin);
  // The body parser calls back from stream events, outside the scope: step back in.
  app.addHook("preValidation", (request, reply, next) => {
    const call = calls.get(request);
    if (call) return call.resume(next);
    return core.wantsBody ? begin(request, reply, next) : next();
  });
  app.addHook("onError", (request, _reply, error, next) => {
    calls.get(request)?.fail(error);
    next();
  });
  app.addHook("onResponse", (request, reply, next) => {
    calls.get(request)?.end(reply.statusCode);
    next();
  });
  app.addHook("onRequestAbort", (request, next) => {
    calls.get(request)?.abort();
    next();
  });
  done();
};

function trackingOf(options: FastifyTrackingOptions | undefined): HttpTracking {
  // Fastify's own register options may ride along; the rest are ours and are checked.
  const {
    tracker,
    prefix: _prefix,
    logLevel: _level,
    logSerializers: _s,
    ...http
  } = (options ?? {}) as FastifyTrackingOptions & Record<string, unknown>;
  if (tracker === undefined) {
    throw new ValidationError(
      "tracker",
      "reqtrack/fastify needs the tracker in its options: app.register(reqtrack, { tracker, ... })",
    );
  }
  return new HttpTracking(tracker, http, "reqtrack (reqtrack/fastify)");
}

// What fastify-plugin sets: register the hooks on the parent instead of an encapsulated child.
Object.assign(reqtrack, {
  [Symbol.for("skip-override")]: true,
  [Symbol.for("fastify.display-name")]: "reqtrack",
});
