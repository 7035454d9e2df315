import type { Schema } from "./document.js";

/**
 * The structural part of every model's schema (types, properties, required, closed objects,
 * items, anyOf, `$ref` by model name), which each client checks an answer against before its
 * models read it: a missing required key, an unknown key or a wrong type is a mismatch.
 * quicktype's models check types, but read a missing nullable key as null and ignore unknown
 * keys (Python), or read every missing key as its zero value (Go).
 */
export function shapes(schemas: Record<string, Schema>): string {
  const reduce = (schema: unknown): unknown => {
    if (schema === null || typeof schema !== "object") return schema;
    const s = schema as Schema;
    const out: Record<string, unknown> = {};
    if (s.$ref) out.$ref = s.$ref.replace("#/components/schemas/", "");
    if (s.type !== undefined) out.type = s.type;
    if (s.properties) {
      out.properties = Object.fromEntries(
        Object.entries(s.properties).map(([name, child]) => [name, reduce(child)]),
      );
    }
    if (s.required) out.required = s.required;
    const extra = s.additionalProperties;
    if (extra !== undefined)
      out.additionalProperties = typeof extra === "object" ? reduce(extra) : extra;
    if (s.items) out.items = reduce(s.items);
    if (s.anyOf) out.anyOf = s.anyOf.map(reduce);
    if (s.enum) out.enum = s.enum;
    return out;
  };
  const table = Object.fromEntries(
    Object.entries(schemas).map(([name, schema]) => [name, reduce(schema)]),
  );
  const json = JSON.stringify(table);
  if (json.includes("`") || json.includes("'''")) throw new Error("a schema needs quoting");
  return json;
}
