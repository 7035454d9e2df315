import Fastify, { type FastifyInstance } from "fastify";
import type { Tracker } from "reqtrack";
import { realWait, type Wait } from "../shared/time.js";
import type { CrewLog } from "./log.js";

/** A call the local services received, with its headers (lower-case names). */
export interface ReceivedCall {
  path: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/** What the fake LLM answers: a fixed reply and token counts from the prompt's length. */
export function fakeCompletion(agent: string, prompt: string) {
  const promptTokens = prompt.split(/\s+/).filter(Boolean).length + 12;
  const completionTokens = 20 + (agent.length % 7) * 5;
  return {
    text: `${agent}: noted "${prompt.slice(0, 40)}"`,
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens },
  };
}

/**
 * The crew's local HTTP side, standing in for remote components: a fake LLM (`POST /llm`,
 * 80 ms, deterministic tokens) and the researcher agent served over HTTP (`POST
 * /agents/researcher`). The researcher joins the caller's request by its `X-Request-ID`
 * (`tracker.withRequest`), so its log lines, counters and its own outgoing calls carry it.
 */
export class CrewServices {
  readonly received: ReceivedCall[] = [];
  private app: FastifyInstance | undefined;
  url = "";

  constructor(
    private readonly log: CrewLog,
    private readonly wait: Wait = realWait,
  ) {}

  /** Calls received by `path` for one request id. */
  callsOf(requestId: string, path?: string): ReceivedCall[] {
    return this.received.filter(
      (c) => c.headers["x-request-id"] === requestId && (path === undefined || c.path === path),
    );
  }

  async start(
    researcher: (topic: string) => Promise<{ findings: string }>,
    tracker: Tracker,
  ): Promise<this> {
    const app = Fastify();
    app.addHook("preHandler", async (request) => {
      this.received.push({
        path: request.url,
        headers: Object.fromEntries(
          Object.entries(request.headers).map(([k, v]) => [k, String(v)]),
        ),
        body: (request.body ?? {}) as Record<string, unknown>,
      });
    });
    app.post("/llm", async (request) => {
      const body = request.body as { agent: string; prompt: string };
      // This component only reads the id it was sent; it keeps no request scope of its own.
      this.log.info(`LLM completion for ${body.agent}`, header(request.headers["x-request-id"]));
      await this.wait(80);
      return fakeCompletion(body.agent, body.prompt);
    });
    app.post("/agents/researcher", (request) => {
      const id = header(request.headers["x-request-id"]);
      const body = request.body as { topic: string };
      const correlationId = header(request.headers["x-correlation-id"]);
      if (id === "unknown") return researcher(body.topic);
      return tracker.withRequest(id, () => researcher(body.topic), {
        correlationId: correlationId === "unknown" ? null : correlationId,
      });
    });
    await app.listen({ port: 0, host: "127.0.0.1" });
    this.app = app;
    const address = app.server.address();
    this.url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    return this;
  }

  async stop(): Promise<void> {
    await this.app?.close();
  }
}

function header(value: string | string[] | undefined): string {
  const v = Array.isArray(value) ? value[0] : value;
  return v && v.length > 0 ? v : "unknown";
}
