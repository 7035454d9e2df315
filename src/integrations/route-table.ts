/**
 * Operation types by method and route pattern, in the frameworks' own `:param` syntax:
 * `{ "POST /api/entities": "entity_create", "GET /api/entities/:id": "entity_read" }`.
 * A key without a method (`"/api/search"`) matches every method; a last segment `*` (or
 * `*name`) matches the rest of the path.
 */
export type RouteTable = Readonly<Record<string, string>>;

/** What a request resolved to: its operation type, route pattern and route params. */
export interface ResolvedRoute {
  kind: string | null;
  route: string | null;
  params: Record<string, string>;
}

interface Entry {
  method: string | null;
  pattern: string;
  kind: string;
  segments: readonly string[];
}

/**
 * Looks a request up in a route table: by the pattern the framework matched when it knows it
 * (Fastify, Hono), else by matching the raw path against the table's own patterns (Express
 * routes after its middleware has run), so that every adapter resolves the same way.
 */
export class RouteMatcher {
  private readonly entries: readonly Entry[];
  private readonly exact: ReadonlyMap<string, string>;

  constructor(table: RouteTable = {}) {
    const entries: Entry[] = [];
    const exact = new Map<string, string>();
    for (const [key, kind] of Object.entries(table)) {
      const space = key.indexOf(" ");
      const method = space > 0 ? key.slice(0, space).toUpperCase() : null;
      const pattern = normalize(space > 0 ? key.slice(space + 1).trim() : key.trim());
      exact.set(`${method === "*" ? "" : (method ?? "")} ${pattern}`, kind);
      entries.push({
        method: method === "*" ? null : method,
        pattern,
        kind,
        segments: split(pattern),
      });
    }
    this.entries = entries;
    this.exact = exact;
  }

  /**
   * Resolves `method` + `path`, preferring the framework's `route` pattern when given; params
   * of a given pattern are only worked out `withParams`.
   */
  resolve(
    method: string,
    path: string,
    route: string | null | undefined,
    withParams = true,
  ): ResolvedRoute {
    const byPath = route ? undefined : this.match(method, path);
    if (!route) return byPath ?? { kind: null, route: null, params: {} };
    const pattern = normalize(route);
    const kind =
      this.exact.get(`${method} ${pattern}`) ??
      this.exact.get(` ${pattern}`) ??
      // The table may spell a pattern differently from the framework (`*` vs `*splat`).
      this.match(method, path)?.kind ??
      null;
    const params = withParams ? (matchPattern(split(pattern), path) ?? {}) : {};
    return { kind, route: pattern, params };
  }

  private match(method: string, path: string): ResolvedRoute | undefined {
    for (const entry of this.entries) {
      if (entry.method !== null && entry.method !== method) continue;
      const params = matchPattern(entry.segments, path);
      if (params) return { kind: entry.kind, route: entry.pattern, params };
    }
    return undefined;
  }
}

/** The params of `path` under `segments` (a split pattern), or undefined when it does not match. */
export function matchPattern(
  segments: readonly string[],
  path: string,
): Record<string, string> | undefined {
  const parts = split(normalize(path));
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as string;
    if (segment.startsWith("*") && i === segments.length - 1) {
      params[segment.length > 1 ? segment.slice(1) : "*"] = parts.slice(i).map(decode).join("/");
      return params;
    }
    const part = parts[i];
    if (part === undefined || part === "") return undefined;
    if (segment.startsWith(":")) params[segment.slice(1)] = decode(part);
    else if (segment !== part) return undefined;
  }
  return parts.length === segments.length ? params : undefined;
}

function normalize(path: string): string {
  return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
}

function split(path: string): string[] {
  return path.split("/").slice(1);
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
