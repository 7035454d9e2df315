/** The dashboard's only way to the server: the public REST API, with the viewer's key. */

const STORAGE_KEY = "reqtrack.apiKey";

/** An error answer of the API, with its stable code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The key typed in at the sign-in form, kept for this tab only (sessionStorage). */
export function apiKey(): string | null {
  return sessionStorage.getItem(STORAGE_KEY);
}

export function setApiKey(key: string | null): void {
  if (key === null) sessionStorage.removeItem(STORAGE_KEY);
  else sessionStorage.setItem(STORAGE_KEY, key);
}

/** Headers every call sends: the key, when there is one. */
export function authHeaders(): Record<string, string> {
  const key = apiKey();
  return key ? { authorization: `Bearer ${key}` } : {};
}

type Query = Record<string, string | number | undefined | null>;

/** `path?query`, leaving out empty values. */
export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

const listeners = new Set<(error: ApiError) => void>();

/** Called on every 401 of a page's call, so the app can ask for a key again. */
export function onUnauthorized(listener: (error: ApiError) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** GET (or another method) /api/v1 + `path`; throws ApiError on an error answer. */
export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(`/api/v1${path}`, {
    ...init,
    headers: {
      accept: "application/json",
      ...(init.body ? { "content-type": "application/json" } : {}),
      ...authHeaders(),
      ...(init.headers as Record<string, string> | undefined),
    },
  });
  if (response.status === 204) return undefined as T;
  const body = (await response.json().catch(() => null)) as
    { code?: string; message?: string } | T | null;
  if (!response.ok) {
    const b = (body ?? {}) as { code?: string; message?: string };
    const error = new ApiError(
      response.status,
      b.code ?? "RT_ERR_HTTP",
      b.message ?? `HTTP ${response.status}`,
    );
    // The key check itself (/whoami) reports to its caller only: telling the listeners,
    // which check the key again, would loop.
    if (response.status === 401 && path !== "/whoami")
      for (const listener of listeners) listener(error);
    throw error;
  }
  return body as T;
}
