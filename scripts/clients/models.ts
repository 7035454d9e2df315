import {
  InputData,
  type JSONSchema,
  JSONSchemaInput,
  JSONSchemaStore,
  quicktype,
} from "quicktype-core";
import type { Schema } from "./document.js";

/**
 * Rewrites `#/components/schemas/X` to `#/definitions/X` and drops the keywords `drop` names
 * (never a property: in `properties` the keys are names, not keywords).
 */
function rewrite(value: unknown, drop: (key: string, value: unknown) => boolean): unknown {
  if (Array.isArray(value)) return value.map((item) => rewrite(item, drop));
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    if (drop(key, child)) continue;
    if (key === "properties" && child !== null && typeof child === "object") {
      out[key] = Object.fromEntries(
        Object.entries(child).map(([name, schema]) => [name, rewrite(schema, drop)]),
      );
    } else if (key === "$ref" && typeof child === "string") {
      out[key] = child.replace("#/components/schemas/", "#/definitions/");
    } else out[key] = rewrite(child, drop);
  }
  return out;
}

const ADDRESS = "reqtrack.json";

/** One document for every source, so a `$ref` to a component is one type, not a copy per use. */
class OneDocument extends JSONSchemaStore {
  constructor(private readonly document: JSONSchema) {
    super();
  }
  async fetch(address: string): Promise<JSONSchema | undefined> {
    return address === ADDRESS ? this.document : undefined;
  }
}

export interface ModelOptions {
  lang: "python" | "go";
  rendererOptions: Record<string, string | boolean>;
  /** Keeps `format: date-time` (Go: `time.Time`); Python reads dates as strings (stdlib only). */
  dates: boolean;
}

/**
 * quicktype's models for every named schema: one source per model, all resolving `$ref`s in
 * one shared document so each component is one type.
 */
export async function renderModels(
  schemas: Record<string, Schema>,
  options: ModelOptions,
): Promise<string> {
  const definitions = Object.fromEntries(
    Object.entries(schemas).map(([name, schema]) => [name, rewrite(schema, drop)]),
  );
  function drop(key: string, value: unknown): boolean {
    if (key === "format") return !options.dates || value !== "date-time";
    // Documentation-only keywords: quicktype would otherwise turn defaults into nothing useful.
    return key === "default" || key === "pattern" || key === "propertyNames";
  }
  const input = new JSONSchemaInput(new OneDocument({ definitions }));
  for (const name of Object.keys(schemas)) {
    await input.addSource({ name, uris: [`${ADDRESS}#/definitions/${name}`] });
  }
  const inputData = new InputData();
  inputData.addInput(input);
  const result = await quicktype({
    inputData,
    lang: options.lang,
    rendererOptions: options.rendererOptions,
    leadingComments: [],
  });
  return result.lines.join("\n") + "\n";
}
