import type { FastifyInstance } from "fastify";

export interface RegisteredRoute {
  method: string;
  /** Fastify form: /api/v1/requests/:id */
  url: string;
}

/**
 * Every route `app` has registered (HEAD, which Fastify adds to each GET, left out), read
 * from `printRoutes()`, the router's radix tree: each line is the part of the path after its
 * parent's, indented four columns per level, with the methods in parentheses when a route
 * ends there.
 */
export function registeredRoutes(app: FastifyInstance): RegisteredRoute[] {
  const routes: RegisteredRoute[] = [];
  const prefixes: string[] = [];
  for (const line of app.printRoutes().split("\n")) {
    const match = /^([│ ]*)[├└]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = (match[1] ?? "").length / 4;
    const url = (prefixes[depth - 1] ?? "") + (match[2] ?? "");
    prefixes[depth] = url;
    prefixes.length = depth + 1;
    for (const method of match[3]?.split(", ") ?? []) {
      if (method !== "HEAD") routes.push({ method, url });
    }
  }
  return routes;
}
