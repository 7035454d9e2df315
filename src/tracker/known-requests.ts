import type { NewRequest } from "../core/ops.js";
import type { JsonValue } from "../core/types.js";

/** How many recently created requests are remembered (FIFO); each costs a few dozen bytes. */
const REMEMBERED = 20_000;

interface Known {
  correlationId: string | null;
  labels: Record<string, string> | undefined;
}

/**
 * What the tracker remembers of the requests it created: their stored correlation id (so a
 * scope opened by id alone, `withRequest(id)` or `trackStage(id)`, sends that id on, not a
 * fresh one) and their label values (`labelFields`), for the completion log line and metrics.
 * Requests created elsewhere are not here: pass the request object to `withRequest` instead.
 */
export class KnownRequests {
  private readonly known = new Map<string, Known>();

  constructor(private readonly labelFields: readonly string[]) {}

  remember(r: NewRequest): void {
    this.known.set(r.id, { correlationId: r.correlationId, labels: this.labelsFrom(r.input) });
    if (this.known.size > REMEMBERED) {
      const oldest = this.known.keys().next();
      if (!oldest.done) this.known.delete(oldest.value);
    }
  }

  correlationIdOf(id: string): string | null | undefined {
    return this.known.get(id)?.correlationId;
  }

  labelsOf(id: string): Record<string, string> | undefined {
    return this.known.get(id)?.labels;
  }

  /** A label's value: `input[field]`, else `input.parameters[field]`; scalars only. */
  private labelsFrom(input: JsonValue | null): Record<string, string> | undefined {
    if (this.labelFields.length === 0 || !isObject(input)) return undefined;
    const parameters = isObject(input.parameters) ? input.parameters : {};
    const labels: Record<string, string> = {};
    for (const field of this.labelFields) {
      const value = input[field] ?? parameters[field];
      if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
        labels[field] = String(value);
      }
    }
    return labels;
  }
}

function isObject(value: JsonValue | null | undefined): value is { [key: string]: JsonValue } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
