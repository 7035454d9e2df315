import type { Schema } from "./document.js";
import { pascal } from "./names.js";

/**
 * Names for the enums every client shows, by where they first appear: without these,
 * quicktype names a shared enum after whichever property it meets first (`StatusElement`).
 */
const NAMES: Record<string, string> = {
  "Request.status": "RequestStatus",
  "Request.lane": "Lane",
  "Stage.status": "StageStatus",
  "Event.severity": "Severity",
  "Error.code": "ErrorCode",
  "BreakerStats.state": "BreakerState",
  "ReplayJob.status": "ReplayJobStatus",
  "Budget.mode": "BudgetMode",
  "Budget.period": "Period",
  "GroupStats.by": "GroupBy",
};

const isEnum = (s: Schema) => Array.isArray(s.enum) && s.type === "string";
const key = (s: Schema) => JSON.stringify([...(s.enum as string[])].sort());

/**
 * Every inline string enum becomes a model of its own (`#/components/schemas/<Name>`), one per
 * set of values, so the same statuses are one type everywhere they appear.
 */
export function nameEnums(schemas: Record<string, Schema>): Record<string, Schema> {
  const seen = new Map<string, string[]>(); // values -> the places they appear, in order
  const first = new Map<string, unknown[]>(); // values -> the enum as first met
  const visit = (
    schema: unknown,
    at: string,
    onEnum: (s: Schema, at: string) => Schema | void,
  ): unknown => {
    if (schema === null || typeof schema !== "object") return schema;
    if (Array.isArray(schema)) return schema.map((item) => visit(item, at, onEnum));
    const s = schema as Schema;
    if (isEnum(s)) return onEnum(s, at) ?? s;
    const out: Record<string, unknown> = {};
    for (const [k, child] of Object.entries(s)) {
      if (k === "properties" && child && typeof child === "object") {
        out[k] = Object.fromEntries(
          Object.entries(child).map(([name, c]) => [name, visit(c, `${at}.${name}`, onEnum)]),
        );
      } else out[k] = visit(child, at, onEnum);
    }
    return out;
  };
  for (const [name, schema] of Object.entries(schemas)) {
    if (isEnum(schema)) continue;
    visit(schema, name, (s, at) => {
      seen.set(key(s), [...(seen.get(key(s)) ?? []), at]);
      if (!first.has(key(s))) first.set(key(s), s.enum!);
    });
  }
  const names = new Map<string, string>();
  const taken = new Set(Object.keys(schemas));
  for (const [values, places] of seen) {
    const known = Object.keys(NAMES).find((place) => places.includes(place));
    let name = known ? NAMES[known]! : pascal(places[0]!);
    while (taken.has(name)) name += "Enum";
    taken.add(name);
    names.set(values, name);
  }
  const out: Record<string, Schema> = {};
  for (const [name, schema] of Object.entries(schemas)) {
    out[name] = isEnum(schema)
      ? schema
      : (visit(schema, name, (s) => ({
          $ref: `#/components/schemas/${names.get(key(s))}`,
        })) as Schema);
  }
  for (const [values, name] of names) {
    out[name] = { type: "string", enum: first.get(values) };
  }
  return out;
}
