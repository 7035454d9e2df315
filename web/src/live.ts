import { api, apiKey, withQuery } from "./api";

/** How long to wait before a new connection when EventSource gave up. */
const RETRY_MS = 2000;

/** One change on the live stream (the API's SSE `data`). */
export interface LiveMessage {
  type: string;
  requestId?: string;
  tenantId?: string | null;
  kind?: string | null;
  status?: string;
  at: string;
  name?: string;
  message?: string;
  reason?: string;
  data?: Record<string, unknown>;
}

/** The named events of the stream (each `data` carries its `type` too). */
const EVENTS = [
  "request.created",
  "request.updated",
  "stage.updated",
  "event.logged",
  "alert",
  "resync",
  "shutdown",
];

/**
 * Subscribes to GET /api/v1/stream with EventSource. EventSource cannot send an Authorization
 * header, so with a key each connection first gets a short-lived token (POST
 * /api/v1/stream/token, the key's role and tenant) and passes it as `?token=`; the key never
 * goes into a URL. EventSource reconnects by itself with `Last-Event-ID`. When it gives up (the
 * token has expired by then, or the server refused), a new connection starts with a new token
 * and `onMessage` gets a `resync`, since what was missed meanwhile cannot be replayed.
 * Returns a function that stops it.
 */
export function subscribeLive(
  query: Record<string, string | undefined>,
  onMessage: (message: LiveMessage) => void,
): () => void {
  let source: EventSource | null = null;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const retry = () => {
    if (!stopped) timer = setTimeout(() => void connect(true), RETRY_MS);
  };
  const connect = async (again: boolean): Promise<void> => {
    let token: string | undefined;
    try {
      if (apiKey())
        token = (await api<{ token: string }>("/stream/token", { method: "POST" })).token;
    } catch {
      return retry();
    }
    if (stopped) return;
    const opened = new EventSource(withQuery("/api/v1/stream", { ...query, token }));
    source = opened;
    for (const type of EVENTS) {
      opened.addEventListener(type, (e) => onMessage(JSON.parse(e.data as string) as LiveMessage));
    }
    if (again) {
      const at = new Date().toISOString();
      opened.addEventListener(
        "open",
        () => onMessage({ type: "resync", reason: "reconnected", at }),
        {
          once: true,
        },
      );
    }
    opened.onerror = () => {
      if (opened.readyState !== EventSource.CLOSED) return; // it reconnects by itself
      source = null;
      retry();
    };
  };
  void connect(false);
  return () => {
    stopped = true;
    clearTimeout(timer);
    source?.close();
  };
}
