import { pino } from "pino";
import { createTracker } from "../../src/index.js";
import { buildApp } from "../../src/server/app.js";

/** A JSON Schema as it appears in the OpenAPI document (only the parts the generators read). */
export interface Schema {
  $ref?: string;
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  anyOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  description?: string;
  [key: string]: unknown;
}

export interface Parameter {
  in: "path" | "query" | "header";
  name: string;
  required?: boolean;
  description?: string;
  schema: Schema;
}

export interface Operation {
  operationId?: string;
  summary?: string;
  description?: string;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content?: Record<string, { schema: Schema }> };
  responses: Record<string, { $ref?: string; content?: Record<string, { schema: Schema }> }>;
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

/**
 * The OpenAPI document the server serves at /docs/json, built from the route schemas without
 * listening (an in-memory store; no keys needed to read `app.swagger()`).
 */
export async function loadDocument(): Promise<OpenApiDocument> {
  const tracker = await createTracker({
    storage: ":memory:",
    logger: pino({ level: "silent" }),
    watchdogIntervalMs: 0,
  });
  try {
    const app = await buildApp({ tracker, logger: false });
    await app.ready();
    // Through JSON, as /docs/json answers it.
    const document = JSON.parse(JSON.stringify(app.swagger())) as OpenApiDocument;
    await app.close();
    return document;
  } finally {
    await tracker.close();
  }
}
