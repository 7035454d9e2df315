import { z } from "zod";
import { ValidationError } from "./errors.js";

/**
 * Checks an options object against a strict zod schema of its names and types, so that a
 * typo (`defaultTimeoutMS`), an option that does not exist (`logLevel`) or a value outside
 * its set (`durability: "paranoid"`) fails at once with a `ValidationError` that names the
 * option and the closest valid name, instead of being ignored. Ranges and defaults stay with
 * each resolver, which knows them.
 */

/** A name a user is likely to try, and what to use instead (Levenshtein would guess badly). */
export interface OptionHint {
  option: string;
  note?: string;
}

/** Where the options go (`createTracker`, `createClient`, ...) and the hints of known mistakes. */
export interface OptionsTarget {
  where: string;
  hints?: Readonly<Record<string, OptionHint>>;
}

/** Throws a `ValidationError` for the first unknown or ill-typed option; returns nothing. */
export function checkOptions(schema: z.ZodType, input: unknown, target: OptionsTarget): void {
  if (input === undefined) return;
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new ValidationError("options", `${target.where} takes an options object`);
  }
  const parsed = schema.safeParse(input, { reportInput: true });
  const issue = parsed.success ? undefined : parsed.error.issues[0];
  if (issue) throw toValidationError(schema, issue, target);
}

function toValidationError(
  schema: z.ZodType,
  issue: z.core.$ZodIssue,
  target: OptionsTarget,
): ValidationError {
  const path = issue.path.map(String);
  if (issue.code === "unrecognized_keys") {
    const name = issue.keys[0] ?? "";
    const field = [...path, name].join(".");
    const hint = path.length === 0 ? target.hints?.[name] : undefined;
    const suggestion = hint?.option ?? closestName(name, keysAt(schema, path));
    const note = hint?.note ? ` (${hint.note})` : "";
    return new ValidationError(
      field,
      `not an option of ${path.length > 0 ? `${path.join(".")} in ` : ""}${target.where}` +
        (suggestion ? `; did you mean "${suggestion}"?${note}` : ""),
    );
  }
  const field = path.join(".") || "options";
  if (issue.code === "invalid_value") {
    const values = issue.values.map((v) => JSON.stringify(v));
    const got = JSON.stringify(issue.input);
    const near =
      typeof issue.input === "string"
        ? closestName(
            issue.input,
            issue.values.filter((v): v is string => typeof v === "string"),
            2,
          )
        : undefined;
    return new ValidationError(
      field,
      `must be ${values.length === 1 ? values[0] : `one of ${values.join(", ")}`} (got ${got})` +
        (near ? `; did you mean "${near}"?` : ""),
    );
  }
  if (issue.code === "invalid_type") {
    const got = issue.input === null ? "null" : typeof issue.input;
    const expected = issue.expected === "boolean" ? "true or false" : article(issue.expected);
    return new ValidationError(field, `must be ${expected} (got ${got})`);
  }
  return new ValidationError(field, issue.message);
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** The option names of the object schema at `path` (through optional, nullable and unions). */
function keysAt(schema: z.ZodType, path: readonly string[]): string[] {
  let at: unknown = schema;
  for (const key of path) {
    const object = objectOf(at);
    at = object ? object.shape[key] : undefined;
  }
  const object = objectOf(at);
  return object ? Object.keys(object.shape) : [];
}

function objectOf(schema: unknown): z.ZodObject | undefined {
  let s = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap();
  if (s instanceof z.ZodUnion) return s.options.map(objectOf).find((o) => o !== undefined);
  return s instanceof z.ZodObject ? s : undefined;
}

/**
 * The candidate nearest to `name` by edit distance, ignoring case first (`defaultTimeoutMS`
 * is `defaultTimeoutMs`); undefined when none is within `maxDistance`.
 */
export function closestName(
  name: string,
  candidates: readonly string[],
  maxDistance = Infinity,
): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const candidate of candidates) {
    // Case differences count a tenth of an edit: they break ties, never outweigh a letter.
    const score =
      editDistance(name.toLowerCase(), candidate.toLowerCase()) +
      editDistance(name, candidate) / 10;
    if (score < bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  return bestScore <= maxDistance ? best : undefined;
}

/** Levenshtein distance: insertions, deletions and substitutions, one each. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** A value that must be a function (clocks, fetch, extractors). */
export const functionOption = (what: string) =>
  z.custom<(...args: never[]) => unknown>(
    (v) => typeof v === "function",
    `must be a function (${what})`,
  );

/** Whether `value` is an object with these methods: how a Tracker or a logger is recognised. */
export function hasMethods(value: unknown, methods: readonly string[]): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    methods.every((m) => typeof (value as Record<string, unknown>)[m] === "function")
  );
}

/** A pino-like logger: what reqtrack calls on it. */
export const loggerOption = z.custom<object>(
  (v) => hasMethods(v, ["info", "warn", "error", "child"]),
  "must be a pino logger (an object with info, warn, error and child)",
);
