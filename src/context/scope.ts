import { AsyncLocalStorage } from "node:async_hooks";

/** What travels with a request through every await inside its scope. */
export interface RequestScope {
  requestId: string;
  correlationId: string | null;
}

const storage = new AsyncLocalStorage<RequestScope>();

/**
 * Runs `fn` with `scope` as the current request: `currentRequestId()` inside it, and in
 * everything it awaits, returns this id. Concurrent scopes never see each other's.
 */
export function runInScope<T>(scope: RequestScope, fn: () => T): T {
  return storage.run(scope, fn);
}

/** The scope of the request being handled, if any. */
export function currentScope(): RequestScope | undefined {
  return storage.getStore();
}

/** The id of the request being handled, or "unknown" outside any request scope. */
export function currentRequestId(): string {
  return storage.getStore()?.requestId ?? "unknown";
}
