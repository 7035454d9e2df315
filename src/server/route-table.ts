import type { ApiKeyRole } from "../core/types.js";

/** One route as registered: what the tenant x role matrix (and any audit) walks. */
export interface RouteEntry {
  method: string;
  url: string;
  /** The lowest role that may call it; undefined for public routes. */
  role: ApiKeyRole | undefined;
}

const tables = new WeakMap<object, RouteEntry[]>();

/** Starts recording `app`'s routes; call before any route is registered. */
export function recordRoutes(app: {
  addHook(
    name: "onRoute",
    hook: (route: { method: string | string[]; url: string; config?: unknown }) => void,
  ): unknown;
}): void {
  const routes: RouteEntry[] = [];
  tables.set(app, routes);
  app.addHook("onRoute", (route) => {
    const role = (route.config as { role?: ApiKeyRole } | undefined)?.role;
    for (const method of [route.method].flat()) routes.push({ method, url: route.url, role });
  });
}

/** Every route `app` registered (HEAD twins included), in registration order. */
export function routeTable(app: object): readonly RouteEntry[] {
  return tables.get(app) ?? [];
}
