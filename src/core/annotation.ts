import { ValidationError } from "./errors.js";
import { fromJsonText, toJsonText } from "./json.js";
import type { AnnotateOp } from "./ops.js";
import type { EventRow } from "./stage-lifecycle.js";
import type { JsonObject, JsonValue } from "./types.js";

/** The columns an annotation may change, as a driver stores them (JSON as text). */
export interface AnnotatedColumns {
  intent: string | null;
  entities: string | null;
  tags: string;
  input: string | null;
}

/** What a driver writes for an annotation: the new columns, the tags to index, the history row. */
export interface AnnotationPlan {
  columns: AnnotatedColumns;
  addedTags: string[];
  event: EventRow;
  change: { [key: string]: JsonValue };
}

/**
 * Plans `tracker.annotate()` on a stored request, the same in every driver: `intent` and
 * `entities` replace what was there, `tags` are added to the request's tags, and `metadata`
 * is merged key by key into the request's `input` object. Throws `ValidationError` (before
 * anything is written) when `metadata` meets an `input` that is not an object.
 */
export function planAnnotation(current: AnnotatedColumns, op: AnnotateOp): AnnotationPlan {
  const columns = { ...current };
  const fields: string[] = [];
  const data: JsonObject = {};
  if (op.intent !== undefined) {
    columns.intent = op.intent;
    fields.push("intent");
    data.intent = op.intent;
  }
  if (op.entities !== undefined) {
    columns.entities = toJsonText(op.entities);
    fields.push("entities");
    data.entities = op.entities;
  }
  let addedTags: string[] = [];
  if (op.tags !== undefined) {
    const tags = (fromJsonText(current.tags) as string[] | null) ?? [];
    addedTags = op.tags.filter((tag) => !tags.includes(tag));
    columns.tags = JSON.stringify([...tags, ...addedTags]);
    fields.push("tags");
    data.tags = op.tags;
  }
  if (op.metadata !== undefined) {
    const input = fromJsonText(current.input);
    if (input !== null && (typeof input !== "object" || Array.isArray(input))) {
      throw new ValidationError(
        "metadata",
        "can only be merged into a request whose input is an object (or empty)",
      );
    }
    columns.input = toJsonText({ ...(input ?? {}), ...op.metadata });
    fields.push("metadata");
    data.metadata = op.metadata;
  }
  return {
    columns,
    addedTags,
    event: {
      type: "annotated",
      stage: null,
      severity: "info",
      message: `Annotated: ${fields.join(", ")}`,
      data: JSON.stringify(data),
    },
    change: { annotated: fields },
  };
}
