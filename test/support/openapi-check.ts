import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import type { FastifyInstance } from "fastify";

/** One answer the server sent that its own OpenAPI document does not describe. */
export interface Mismatch {
  method: string;
  route: string;
  status: number;
  problem: string;
}

interface ResponseObject {
  $ref?: string;
  content?: Record<string, { schema?: unknown }>;
}

interface OpenApiDocument {
  paths: Record<string, Record<string, { responses?: Record<string, ResponseObject> }>>;
  components?: { responses?: Record<string, ResponseObject> };
}

/** `/api/v1/requests/:id` (Fastify) -> `/api/v1/requests/{id}` (OpenAPI). */
export const openApiPath = (route: string) => route.replace(/:(\w+)/g, "{$1}");

const pointer = (...parts: string[]) =>
  parts.map((p) => p.replace(/~/g, "~0").replace(/\//g, "~1")).join("/");

/**
 * Checks answers against an OpenAPI 3.1 document: the status must be declared for the
 * operation, and a JSON body must match the declared schema (Ajv, draft 2020-12, formats).
 */
export class ResponseChecker {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly validators = new Map<string, ValidateFunction | null>();

  constructor(private readonly doc: OpenApiDocument) {
    addFormats.default(this.ajv);
    this.ajv.addSchema({ ...doc, $id: "openapi.json" });
  }

  /** Whether the document describes the route at all (hidden ones, /healthz, are not). */
  describes(method: string, route: string): boolean {
    return Boolean(this.doc.paths[openApiPath(route)]?.[method.toLowerCase()]);
  }

  /** What is wrong with one answer, or null when the document describes it. */
  check(
    method: string,
    route: string,
    status: number,
    type: string | undefined,
    body: string,
  ): string | null {
    const path = openApiPath(route);
    const verb = method.toLowerCase();
    const declared = this.doc.paths[path]?.[verb]?.responses ?? {};
    let response = declared[String(status)];
    if (!response) return `status ${status} is not declared (declared: ${Object.keys(declared)})`;
    let at = pointer("paths", path, verb, "responses", String(status));
    if (response.$ref) {
      const name = response.$ref.replace("#/components/responses/", "");
      response = this.doc.components?.responses?.[name] ?? {};
      at = pointer("components", "responses", name);
    }
    const media = (type ?? "").split(";")[0]?.trim() ?? "";
    if (!response.content) return body === "" ? null : `a body where none is declared: ${body}`;
    if (!response.content[media]) {
      return `content-type ${media || "(none)"} is not declared (${Object.keys(response.content)})`;
    }
    if (media !== "application/json" || response.content[media].schema === undefined) return null;
    const key = `${at}/${pointer("content", media, "schema")}`;
    let validate = this.validators.get(key);
    if (validate === undefined) {
      validate = this.ajv.compile({ $ref: `openapi.json#/${key}` });
      this.validators.set(key, validate);
    }
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      return `the body is not JSON: ${body.slice(0, 200)}`;
    }
    if (validate?.(value)) return null;
    const found = (validate?.errors ?? []).map(
      (e) => `${e.instancePath || "/"} ${e.message ?? ""} ${JSON.stringify(e.params)}`,
    );
    return `${[...new Set(found)].join("; ")}; body ${body.slice(0, 300)}`;
  }
}

/**
 * Records every answer `app` sends that its live OpenAPI document (`app.swagger()`, served at
 * /docs/json) does not describe. Routes the document leaves out on purpose (health, metrics,
 * the dashboard, the docs) are not checked. Returns the list the answers land in.
 */
export function recordMismatches(app: FastifyInstance): Mismatch[] {
  const mismatches: Mismatch[] = [];
  let checker: ResponseChecker | undefined;
  app.addHook("onSend", async (request, reply, payload) => {
    const route = request.routeOptions.url;
    if (route === undefined) return payload; // no route: the not-found answer
    checker ??= new ResponseChecker(app.swagger() as unknown as OpenApiDocument);
    if (!checker.describes(request.method, route)) return payload;
    const type = reply.getHeader("content-type");
    const body =
      typeof payload === "string" ? payload : Buffer.isBuffer(payload) ? `${payload}` : "";
    const problem = checker.check(
      request.method,
      route,
      reply.statusCode,
      typeof type === "string" ? type : undefined,
      body,
    );
    if (problem)
      mismatches.push({ method: request.method, route, status: reply.statusCode, problem });
    return payload;
  });
  return mismatches;
}
