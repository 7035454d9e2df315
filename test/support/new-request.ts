import type { NewRequest } from "../../src/core/ops.js";
import { normalizeNewRequest } from "../../src/core/pending-request.js";
import type { CreateRequestData } from "../../src/core/schemas.js";

/**
 * A complete `NewRequest` for a store-level test's create op: the values the tracker would
 * store for a bare `{ userId: "u0" }` (one attempt, a minute's timeout), then `overrides`.
 */
export function newRequestOf(
  id: string,
  at: number,
  overrides: Partial<NewRequest> = {},
): NewRequest {
  const data = { userId: "u0", priority: 0.5, tags: [] } as unknown as CreateRequestData;
  return {
    ...normalizeNewRequest(data, { id, at, correlationId: id }),
    correlationId: null,
    maxAttempts: 1,
    timeoutMs: 60_000,
    ...overrides,
  };
}
