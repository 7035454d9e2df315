import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** One call a fake service received: which service, and the headers it came with. */
export interface ReceivedCall {
  service: string;
  headers: IncomingHttpHeaders;
}

/**
 * The pipeline's external services (vector search, Gemini, Nano Banana, CDN, email) as one
 * local HTTP server on 127.0.0.1, with fixed answers, usage for costs, and failures on
 * purpose: `failing.add("nano_banana")` makes that service answer 503 until removed.
 * Every call is kept in `received` (with its X-Correlation-ID) for the test to check.
 */
export class FakeServices {
  readonly received: ReceivedCall[] = [];
  readonly failing = new Set<string>();
  private server: Server | null = null;
  url = "";

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        const service = (req.url ?? "/").split("/")[1] ?? "";
        this.received.push({ service, headers: req.headers });
        const input = body ? (JSON.parse(body) as Record<string, unknown>) : {};
        if (this.failing.has(service)) {
          res.writeHead(503, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: `${service} unavailable (fake outage)` }));
          return;
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(answer(service, input)));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  calls(service: string): ReceivedCall[] {
    return this.received.filter((c) => c.service === service);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

function answer(service: string, input: Record<string, unknown>): unknown {
  const topic = String(input.topic ?? "");
  switch (service) {
    case "vector_search":
      return {
        chunks: [1, 2, 3].map((n) => ({ source: `oer://${topic}/${n}`, text: `${topic} ${n}` })),
      };
    case "gemini": {
      const script = `An introduction to ${topic}. ${"Key idea. ".repeat(40)}`.trim();
      return { script, usage: { input_tokens: 1200, output_tokens: 400 } };
    }
    case "nano_banana":
      return { video_url: `https://videos.example/${encodeURIComponent(topic)}.mp4`, seconds: 300 };
    case "cdn":
      return {
        cdn_url: `https://cdn.example/${String(input.filename)}`,
        thumbnail_url: `https://cdn.example/${String(input.filename)}.jpg`,
      };
    case "email":
      return { sent: true };
    default:
      return { error: "unknown service" };
  }
}
