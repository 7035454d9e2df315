import type { Backend, Json, Query } from "./backend.js";
import { CliError } from "./fail.js";

/** A reqtrack server over its HTTP API (`--url`, `--key`). */
export class RemoteBackend implements Backend {
  private readonly base: string;

  constructor(
    url: string,
    private readonly key: string | undefined,
  ) {
    try {
      this.base = new URL(url).toString().replace(/\/$/, "");
    } catch {
      throw new CliError(`--url must be a URL such as http://127.0.0.1:7600, not ${url}`);
    }
  }

  async list(q: Query) {
    return this.call<{ items: Json[]; total: number; nextCursor: string | null }>(
      "GET",
      `/api/v1/requests${search(q)}`,
    );
  }

  async show(id: string) {
    return this.call<Json>("GET", `/api/v1/requests/${encodeURIComponent(id)}`, undefined, true);
  }

  async events(id: string) {
    const answer = await this.call<{ items: Json[] }>(
      "GET",
      `/api/v1/requests/${encodeURIComponent(id)}/events`,
      undefined,
      true,
    );
    return answer?.items ?? [];
  }

  async overview(q: Query) {
    return this.call<Json>("GET", `/api/v1/stats/overview${search(q)}`);
  }

  async costs(q: Query) {
    return this.call<Json>("GET", `/api/v1/costs/report${search(q)}`);
  }

  async ingest(ops: readonly Json[]) {
    const answer = await this.call<{ results: { ok: boolean; error?: { message: string } }[] }>(
      "POST",
      "/api/v1/ingest",
      { ops },
    );
    return answer.results;
  }

  /** Opens the SSE stream; the caller reads the body. */
  async stream(q: Query, signal: AbortSignal): Promise<Response> {
    const response = await this.fetch(`/api/v1/stream${search(q)}`, {
      headers: { ...this.auth(), accept: "text/event-stream" },
      signal,
    });
    if (!response.ok) throw await problem(response);
    return response;
  }

  async close() {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T>;
  private async call<T>(
    method: string,
    path: string,
    body: unknown,
    nullOn404: true,
  ): Promise<T | null>;
  private async call<T>(method: string, path: string, body?: unknown, nullOn404 = false) {
    const response = await this.fetch(path, {
      method,
      headers: {
        ...this.auth(),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (nullOn404 && response.status === 404) return null;
    if (!response.ok) throw await problem(response);
    return (await response.json()) as T;
  }

  private auth(): Record<string, string> {
    return this.key ? { authorization: `Bearer ${this.key}` } : {};
  }

  private async fetch(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.base}${path}`, init);
    } catch (error) {
      if ((error as Error).name === "AbortError") throw error;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        `cannot reach ${this.base}: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
      );
    }
  }
}

function search(q: Query): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) params.set(k, v);
  const text = params.toString();
  return text ? `?${text}` : "";
}

async function problem(response: Response): Promise<CliError> {
  const body = (await response.json().catch(() => null)) as {
    code?: string;
    message?: string;
  } | null;
  const hint =
    response.status === 401
      ? " (pass --key or set REQTRACK_KEY)"
      : response.status === 403
        ? " (this key's role or tenant does not allow it)"
        : "";
  return new CliError(
    `server answered ${response.status}${body?.code ? ` ${body.code}` : ""}: ${body?.message ?? response.statusText}${hint}`,
  );
}
