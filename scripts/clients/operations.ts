import type { OpenApiDocument, Schema } from "./document.js";
import { nameEnums } from "./enums.js";
import { pascal } from "./names.js";

/** What an operation answers on success: nothing, one model, or a list of one model. */
export type Returns = { kind: "none" } | { kind: "model"; type: string; list: boolean };

export interface Param {
  /** The name on the wire (`from`, `userId`). */
  wire: string;
  required: boolean;
  /** The value's type: query strings are typed by their schema; anything else is a string. */
  type: "string" | "integer" | "number" | "boolean";
}

/** One API operation, language-neutral: what each generator turns into one method. */
export interface ClientOperation {
  /** The operationId, or method + path words (`get_api_v1_things`). */
  name: string;
  method: string;
  /** The path template, `{id}` for a path parameter. */
  path: string;
  pathParams: Param[];
  queryParams: Param[];
  /** The model of the JSON body, when the operation takes one. */
  body: { type: string; required: boolean; nullable: boolean } | null;
  returns: Returns;
  /** The success status and what the document says it holds. */
  status: number;
  description: string;
}

export interface ClientApi {
  operations: ClientOperation[];
  /** Every named model for quicktype: the components, then inline bodies and answers. */
  schemas: Record<string, Schema>;
  /** Operations left out, with why (the live stream is SSE, not a JSON call). */
  skipped: { name: string; reason: string }[];
}

const COMPONENT = "#/components/schemas/";

const refName = (schema: Schema | undefined) =>
  schema?.$ref?.startsWith(COMPONENT) ? schema.$ref.slice(COMPONENT.length) : undefined;

function paramType(schema: Schema): Param["type"] {
  const types = (schema.anyOf ?? [schema]).flatMap((s) => s.type ?? []);
  const only = new Set(types);
  if (only.size === 1 && ["integer", "number", "boolean"].includes(types[0]!)) {
    return types[0] as Param["type"];
  }
  return "string";
}

/** The object member of `anyOf: [object, null]` (an optional body), or the schema itself. */
function withoutNull(schema: Schema): { schema: Schema; nullable: boolean } {
  const members = schema.anyOf;
  if (!members) return { schema, nullable: false };
  const rest = members.filter((m) => m.type !== "null");
  if (rest.length === 1 && rest.length < members.length)
    return { schema: rest[0]!, nullable: true };
  return { schema, nullable: false };
}

/**
 * Reads the document into operations and named models. Inline schemas get a name from their
 * operation (`CreateRequestBody`, `ListEventsResponse`) so every language types them alike.
 */
export function readApi(document: OpenApiDocument): ClientApi {
  const schemas: Record<string, Schema> = { ...document.components.schemas };
  const named = (name: string, schema: Schema): string => {
    const ref = refName(schema);
    if (ref) return ref;
    if (schemas[name]) throw new Error(`two models named ${name}: rename an operation`);
    schemas[name] = schema;
    return name;
  };
  const operations: ClientOperation[] = [];
  const skipped: ClientApi["skipped"] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const name = op.operationId ?? `${method}_${path.replace(/[{}]/g, "")}`;
      const [status, success] = Object.entries(op.responses).find(([s]) => s.startsWith("2"))!;
      const content = success.content ?? {};
      if (Object.keys(content).some((type) => type !== "application/json")) {
        skipped.push({ name, reason: `answers ${Object.keys(content).join(", ")}` });
        continue;
      }
      const answer = content["application/json"]?.schema;
      let returns: Returns = { kind: "none" };
      if (answer?.type === "array" && refName(answer.items)) {
        returns = { kind: "model", type: refName(answer.items)!, list: true };
      } else if (answer) {
        returns = { kind: "model", type: named(`${pascal(name)}Response`, answer), list: false };
      }
      const bodySchema = op.requestBody?.content?.["application/json"]?.schema;
      let body: ClientOperation["body"] = null;
      if (bodySchema) {
        const { schema, nullable } = withoutNull(bodySchema);
        const required = Boolean(op.requestBody?.required) && !nullable;
        body = { type: named(`${pascal(name)}Body`, schema), required, nullable };
      }
      const params = (where: "path" | "query") =>
        (op.parameters ?? [])
          .filter((p) => p.in === where)
          .map((p) => ({
            wire: p.name,
            required: where === "path" || Boolean(p.required),
            type: where === "path" ? ("string" as const) : paramType(p.schema),
          }));
      const description = (success as { description?: string }).description ?? "";
      operations.push({
        name,
        method: method.toUpperCase(),
        path,
        pathParams: params("path"),
        queryParams: params("query"),
        body,
        returns,
        status: Number(status),
        description,
      });
    }
  }
  return { operations, schemas: nameEnums(schemas), skipped };
}
