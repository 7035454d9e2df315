import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import {
  badQuery,
  hostileString,
  malformedBody,
  objectFor,
  type Schema,
  valueFor,
} from "./hostile.js";

/** One operation of the app's live OpenAPI document. */
export interface Operation {
  method: string;
  /** OpenAPI form: /api/v1/requests/{id} */
  path: string;
  pathParams: Schema[];
  query: Schema;
  body: Schema | null;
}

/** Every operation of `app.swagger()`: routes added later are fuzzed without anyone listing them. */
export function operationsOf(app: FastifyInstance): Operation[] {
  const doc = app.swagger() as unknown as { paths: Record<string, Record<string, Schema>> };
  const out: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = (op.parameters ?? []) as Schema[];
      const query: Schema = { type: "object", properties: {} };
      for (const p of params.filter((p) => p.in === "query")) query.properties[p.name] = p.schema;
      out.push({
        method: method.toUpperCase(),
        path,
        pathParams: params.filter((p) => p.in === "path"),
        query,
        body: (op.requestBody?.content?.["application/json"]?.schema as Schema) ?? null,
      });
    }
  }
  return out;
}

/** A request as app.inject takes it. */
export interface HttpCase {
  op: Operation;
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
}

const encode = (value: string) => {
  try {
    return encodeURIComponent(value);
  } catch {
    // A lone surrogate cannot be encoded: send the invalid UTF-8 it would stand for.
    return "%ED%A0%80";
  }
};
const text = (value: unknown) =>
  typeof value === "string"
    ? value
    : value !== null && typeof value === "object"
      ? JSON.stringify(value)
      : String(value);

/**
 * Cases for `ops`: path params from `ids` (real ones, so that handlers run) or hostile
 * strings; query strings shaped by the schema or broken; bodies shaped by the schema or not
 * JSON at all; every auth header from a valid key to a forged or 20 KB one.
 */
export function httpCases(
  ops: readonly Operation[],
  ids: readonly string[],
  keys: readonly string[],
): fc.Arbitrary<HttpCase> {
  const auth = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...keys).map((k) => `Bearer ${k}`) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        "",
        "Bearer",
        "Bearer ",
        "Bearer rt_forgedforgedforgedforgedforgedfo",
        "Basic YWRtaW46YWRtaW4=",
        "bearer  rt_x",
        `Bearer ${"A".repeat(20_000)}`,
        "Bearer rt_' OR 1=1 --",
        "Bearer ../../etc/passwd",
      ),
    },
    { weight: 1, arbitrary: fc.string({ unit: "grapheme-ascii", maxLength: 60 }) },
  );
  const param = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...ids).map(encode) },
    { weight: 2, arbitrary: hostileString.map(encode) },
    {
      weight: 1,
      arbitrary: fc.constantFrom("../../etc/passwd", "..", ".", "%2e%2e", "%00", "a/b"),
    },
  );
  const contentType = fc.constantFrom(
    "application/json",
    "application/json",
    "application/json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/json; charset=utf-16",
    "",
  );
  return fc.constantFrom(...ops).chain((op) =>
    fc
      .record({
        params: fc.array(param, {
          minLength: op.pathParams.length,
          maxLength: op.pathParams.length,
        }),
        query: fc.oneof(
          { weight: 4, arbitrary: objectFor(op.query).map(querystring) },
          { weight: 1, arbitrary: badQuery },
          { weight: 1, arbitrary: fc.constant("") },
        ),
        body: op.body
          ? fc.oneof(
              { weight: 4, arbitrary: objectFor(op.body).map((b) => JSON.stringify(b)) },
              { weight: 1, arbitrary: valueFor(op.body).map((b) => JSON.stringify(b) ?? "null") },
              { weight: 1, arbitrary: malformedBody },
            )
          : fc.option(malformedBody, { freq: 5 }),
        auth: fc.option(auth, { freq: 8 }),
        contentType,
      })
      .map(({ params, query, body, auth: authorization, contentType: type }) => {
        let i = 0;
        const path = op.path.replace(/\{[^}]+\}/g, () => params[i++] ?? "x");
        const headers: Record<string, string> = {};
        if (authorization !== null) headers.authorization = authorization;
        const payload = body ?? undefined;
        if (payload !== undefined && type !== "") headers["content-type"] = type;
        return {
          op,
          method: op.method,
          url: query ? `${path}?${query}` : path,
          headers,
          ...(payload !== undefined ? { payload } : {}),
        };
      }),
  );
}

function querystring(values: Record<string, unknown>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) params.append(k, text(v));
  return params.toString();
}
