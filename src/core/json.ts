import type { JsonValue } from "./types.js";

/** 1 MiB: the largest `input` (as JSON) a request may carry. */
export const MAX_INPUT_BYTES = 1024 * 1024;

/**
 * Why `value` cannot be stored as JSON, or null when it can. JSON.stringify would silently
 * drop `undefined` and functions and turn NaN into null; a tracker must not store something
 * other than what it was given, so those are refused instead.
 */
export function jsonProblem(value: unknown): string | null {
  const seen = new Set<object>();
  const visit = (v: unknown, path: string): string | null => {
    switch (typeof v) {
      case "string":
      case "boolean":
        return null;
      case "number":
        return Number.isFinite(v) ? null : `${path || "value"} is ${v}, which JSON cannot hold`;
      case "object": {
        if (v === null) return null;
        if (seen.has(v)) return `${path || "value"} is circular`;
        const proto = Object.getPrototypeOf(v);
        if (!Array.isArray(v) && proto !== Object.prototype && proto !== null) {
          return `${path || "value"} is a ${proto?.constructor?.name ?? "non-plain object"}, not plain JSON`;
        }
        seen.add(v);
        if (Array.isArray(v)) {
          for (let i = 0; i < v.length; i++) {
            const problem = visit(v[i], `${path}[${i}]`);
            if (problem) return problem;
          }
        } else {
          for (const key of Object.keys(v)) {
            const problem = visit(
              (v as Record<string, unknown>)[key],
              path ? `${path}.${key}` : key,
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
  return visit(value, "");
}

/** Serializes a value already checked by `jsonProblem`. */
export function toJsonText(value: JsonValue | null | undefined): string | null {
  return value == null ? null : JSON.stringify(value);
}

export function fromJsonText<T = JsonValue>(text: string | null): T | null {
  return text == null ? null : (JSON.parse(text) as T);
}
