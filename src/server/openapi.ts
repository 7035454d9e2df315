import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import {
  createJsonSchemaTransform,
  createJsonSchemaTransformObject,
} from "fastify-type-provider-zod";
import { z } from "zod";
import { errorSchema, openapiRegistry } from "./openapi-schemas.js";

/**
 * Every error status the API answers with, and what it means. Each is one shared response
 * (`#/components/responses/<name>`) with the one error body, `Error`.
 */
export const ERROR_RESPONSES = {
  400: { name: "ValidationFailed", description: "Bad input; `field` names the culprit." },
  401: { name: "Unauthorized", description: "No API key, or one that is unknown or revoked." },
  403: { name: "Forbidden", description: "The API key's role or tenant does not allow this." },
  404: {
    name: "NotFound",
    description: "No such resource, or one of another tenant (never a 403 that confirms it).",
  },
  409: {
    name: "Conflict",
    description: "A lifecycle change the state machine forbids, attempts used up, or an id taken.",
  },
  413: { name: "PayloadTooLarge", description: "The request body is over the server's limit." },
  415: { name: "UnsupportedMediaType", description: "The body is not JSON." },
  429: {
    name: "BudgetExceeded",
    description: "An enforced cost budget is spent; `budget` has its figures.",
    retryAfter: "Seconds until the budget's period ends.",
  },
  500: {
    name: "InternalError",
    description: "A bug in reqtrack; the details are in the server log.",
  },
  503: {
    name: "Unavailable",
    description:
      "The server is shedding load (RT_ERR_OVERLOADED, with Retry-After) or the store is unavailable.",
    retryAfter: "Seconds to wait before retrying (load shedding).",
  },
} as const;

export type ErrorStatus = keyof typeof ERROR_RESPONSES;

/**
 * The error answers of a route, for its `response` schema. Every /api/v1 route may also
 * answer 401 (keys), 500 (a bug) and 503 (shedding, store down): those are always included.
 *
 * @example
 * response: { 200: requestSchema, ...errors(400, 404) }
 */
export function errors<S extends ErrorStatus>(
  ...statuses: S[]
): Record<S | 401 | 500 | 503, typeof errorSchema> {
  const all = new Set<ErrorStatus>([...statuses, 401, 500, 503]);
  return Object.fromEntries([...all].sort().map((s) => [s, errorSchema])) as Record<
    S | 401 | 500 | 503,
    typeof errorSchema
  >;
}

/** The error statuses of a route that takes a JSON body: bad, too large, not JSON. */
export const BODY_ERRORS = [400, 413, 415] as const;

/** The methods whose requests Fastify parses a body for. */
const BODY_METHODS = new Set(["post", "put", "patch", "delete"]);

/** A 204 answer: done, no body. */
export const noContent = z.undefined();
openapiRegistry.add(noContent, { description: "Done; no body." });

/** A 201 answer without a body: recorded. */
export const createdNoBody = z.undefined();
openapiRegistry.add(createdNoBody, { description: "Recorded; no body." });

/**
 * Serializes answers with `JSON.stringify`, whatever the route's response schema says. The
 * schemas document the answers (and type the handlers); they must never drop a field or turn
 * an answer into a 500 in production. The test suite validates every answer against the
 * document instead (test/support/openapi-responses.ts).
 */
export const plainSerializerCompiler = () => (data: unknown) => JSON.stringify(data);

/** The parts of an OpenAPI document that `finishDocument` reads and writes. */
interface Document {
  paths?: Record<string, Record<string, { responses?: Record<string, unknown> } | undefined>>;
  components?: { schemas?: Record<string, unknown>; [key: string]: unknown };
  [key: string]: unknown;
}

/** Walks a JSON value and collects every `#/components/schemas/<name>` it refers to. */
function schemaRefs(value: unknown, into: Set<string>): Set<string> {
  if (Array.isArray(value)) for (const item of value) schemaRefs(item, into);
  else if (value !== null && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) {
      if (key === "$ref" && typeof child === "string") {
        const match = /^#\/components\/schemas\/(.+)$/.exec(child);
        if (match?.[1]) into.add(match[1]);
      } else schemaRefs(child, into);
    }
  }
  return into;
}

interface SuccessResponse {
  description?: string;
  content?: Record<string, { schema?: { $ref?: string; description?: string } }>;
}

/** A success answer says what it holds: its component's description, not "Default Response". */
function describeSuccess(response: SuccessResponse, document: Document): void {
  if (response.description !== "Default Response") return;
  const schema = response.content?.["application/json"]?.schema;
  const name = schema?.$ref?.replace("#/components/schemas/", "");
  const component = name ? document.components?.schemas?.[name] : undefined;
  response.description =
    (component as { description?: string } | undefined)?.description ?? schema?.description ?? "OK";
}

/**
 * Finishes the document: error answers become `$ref`s to one shared response per status
 * (with its Retry-After header), and component schemas no operation refers to (the
 * zod provider emits an input twin of each) are left out.
 */
function finishDocument(document: Document): Document {
  const responses: Record<string, object> = {};
  for (const [status, meta] of Object.entries(ERROR_RESPONSES)) {
    responses[meta.name] = {
      description: meta.description,
      ...("retryAfter" in meta
        ? {
            headers: {
              "Retry-After": {
                description: meta.retryAfter,
                required: status === "429",
                schema: { type: "integer", minimum: 0 },
              },
            },
          }
        : {}),
      content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
    };
  }
  for (const item of Object.values(document.paths ?? {})) {
    for (const [method, operation] of Object.entries(item ?? {})) {
      const answers = operation?.responses;
      if (!answers) continue;
      // Fastify parses a body sent with any of these methods, even to a route that takes
      // none: bad JSON, too large or not JSON is answered before the route runs.
      if (BODY_METHODS.has(method)) for (const status of BODY_ERRORS) answers[status] ??= {};
      for (const status of Object.keys(answers)) {
        const meta = ERROR_RESPONSES[Number(status) as ErrorStatus];
        if (meta) answers[status] = { $ref: `#/components/responses/${meta.name}` };
        else describeSuccess(answers[status] as SuccessResponse, document);
      }
    }
  }
  const schemas = document.components?.schemas ?? {};
  // Referenced from paths or responses, then from those schemas, until nothing new appears.
  const used = schemaRefs([document.paths, responses], new Set());
  for (let size = -1; size !== used.size;) {
    size = used.size;
    for (const name of [...used]) schemaRefs(schemas[name], used);
  }
  return {
    ...document,
    components: {
      ...document.components,
      schemas: Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(name))),
      responses,
    },
  };
}

const transformObject = createJsonSchemaTransformObject({ schemaRegistry: openapiRegistry });

/**
 * The OpenAPI 3.1 document (built by @fastify/swagger from the route schemas) and its UI at
 * /docs; the document itself is at /docs/json.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "reqtrack",
        version: "1",
        description: "Request tracking for AI-generation pipelines",
      },
      components: {
        securitySchemes: {
          bearer: { type: "http", scheme: "bearer" },
          streamToken: { type: "apiKey", in: "query", name: "token" },
        },
      },
      security: [{ bearer: [] }],
    },
    transform: createJsonSchemaTransform({ schemaRegistry: openapiRegistry }),
    transformObject: (input) =>
      finishDocument(transformObject(input) as unknown as Document) as never,
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
}
