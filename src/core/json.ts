import type { JsonValue } from "./types.js";

/** 1 MiB: the largest `input` (as JSON) a request may carry. */
export const MAX_INPUT_BYTES = 1024 * 1024;

/**
 * The deepest nesting of arrays and objects a stored JSON value may have. Real payloads stay
 * within a dozen levels; the limit keeps a hostile one from exhausting the stack of every
 * piece of code that walks it (this check, serializers, the stores' JSON functions).
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Why `value` cannot be stored as JSON, or null when it can. JSON.stringify would silently
 * drop `undefined` and functions and turn NaN into null; a tracker must not store something
 * other than what it was given, so those are refused instead.
 */
export function jsonProblem(value: unknown): string | null {
  const seen = new Set<object>();
  const visit = (v: unknown, path: string, depth: number): string | null => {
    switch (typeof v) {
      case "string":
      case "boolean":
        return null;
      case "number":
        return Number.isFinite(v) ? null : `${path || "value"} is ${v}, which JSON cannot hold`;
      case "object": {
        if (v === null) return null;
        if (seen.has(v)) return `${path || "value"} is circular`;
        if (depth >= MAX_JSON_DEPTH) {
          return `${path || "value"} is nested deeper than ${MAX_JSON_DEPTH} levels`;
        }
        const proto = Object.getPrototypeOf(v);
        if (!Array.isArray(v) && proto !== Object.prototype && proto !== null) {
          return `${path || "value"} is a ${proto?.constructor?.name ?? "non-plain object"}, not plain JSON`;
        }
        seen.add(v);
        if (Array.isArray(v)) {
          for (let i = 0; i < v.length; i++) {
            const problem = visit(v[i], `${path}[${i}]`, depth + 1);
            if (problem) return problem;
          }
        } else {
          for (const key of Object.keys(v)) {
            const problem = visit(
              (v as Record<string, unknown>)[key],
              path ? `${path}.${key}` : key,
              depth + 1,
            );
            if (problem) return problem;
          }
        }
        seen.delete(v);
        return null;
      }
      default:
        return `${path || "value"} is ${typeof v === "undefined" ? "undefined" : `a ${typeof v}`}, which JSON cannot hold`;
    }
  };
  return visit(value, "", 0);
}

/** Serializes a value already checked by `jsonProblem`. */
export function toJsonText(value: JsonValue | null | undefined): string | null {
  return value == null ? null : JSON.stringify(value);
}

export function fromJsonText<T = JsonValue>(text: string | null): T | null {
  return text == null ? null : (JSON.parse(text) as T);
}
