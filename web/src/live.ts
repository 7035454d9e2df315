import { authHeaders, withQuery } from "./api";

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

/**
 * Subscribes to GET /api/v1/stream. EventSource cannot send an Authorization header, so this
 * reads the stream with fetch (which can), keeping the key out of URLs and logs. On a drop it
 * reconnects after the server's `retry:` delay with `Last-Event-ID`, so nothing is missed; a
 * `resync` event (the server could not replay) is handed to `onMessage` like any other.
 * Returns a function that stops it.
 */
export function subscribeLive(
  query: Record<string, string | undefined>,
  onMessage: (message: LiveMessage) => void,
): () => void {
  const controller = new AbortController();
  let lastEventId: string | null = null;
  let retryMs = 2000;

  const run = async (): Promise<void> => {
    while (!controller.signal.aborted) {
      try {
        const response = await fetch(withQuery("/api/v1/stream", query), {
          headers: {
            accept: "text/event-stream",
            ...authHeaders(),
            ...(lastEventId ? { "last-event-id": lastEventId } : {}),
          },
          signal: controller.signal,
        });
        if (!response.ok || !response.body) throw new Error(`stream: HTTP ${response.status}`);
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end: number;
          while ((end = buffer.indexOf("\n\n")) !== -1) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let data = "";
            for (const line of frame.split("\n")) {
              if (line.startsWith("id: ")) lastEventId = line.slice(4);
              else if (line.startsWith("data: ")) data += line.slice(6);
              else if (line.startsWith("retry: ")) retryMs = Number(line.slice(7)) || retryMs;
            }
            if (data) onMessage(JSON.parse(data) as LiveMessage);
          }
        }
      } catch {
        if (controller.signal.aborted) return;
      }
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
  };
  void run();
  return () => controller.abort();
}
