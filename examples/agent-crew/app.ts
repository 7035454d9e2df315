import Fastify, { type FastifyInstance } from "fastify";
import {
  createTracker,
  currentRequest,
  type Logger,
  type RequestRecord,
  type Tracker,
  trackedFetch,
  ValidationError,
} from "reqtrack";
import { reqtrack } from "reqtrack/fastify";
import { exampleErrors, intParam } from "../shared/http-errors.js";
import { realWait, type Wait } from "../shared/time.js";
import { CrewLog } from "./log.js";
import { CrewServices } from "./services.js";

export interface AgentCrewOptions {
  storage: string;
  /** How many requests the history keeps (the newest). Default 100. */
  historySize?: number;
  clock?: () => number;
  wait?: Wait;
  logger?: Logger;
  /** Print the crew's log lines too (the demo). */
  print?: boolean;
}

/** The in-process tools; GetDiskUsage fails, as a broken tool does. */
const TOOLS: Record<string, () => string> = {
  GetCPUUsage: () => "cpu 37%",
  GetMemoryUsage: () => "memory 61%",
  PingHost: () => "pong 4 ms",
  GetDiskUsage: () => {
    throw new Error("GetDiskUsage: permission denied");
  },
};

/**
 * A multi-agent crew on reqtrack. `POST /api/crew` is one request: the middleware gives it an
 * id and runs the handler in its scope; the orchestrator, clarifier and executor agents run in
 * process, the researcher agent and the LLM over local HTTP (`trackedFetch` sends the id
 * on). Every log line carries the id, counters (agent_calls, tool_calls, rounds, tokens) and
 * events (agent_thinking, tool_call) go on the request, and `/api/requests` is the crew's
 * request history in its own JSON shape.
 */
export async function createAgentCrew(options: AgentCrewOptions) {
  const clock = options.clock ?? Date.now;
  const wait = options.wait ?? realWait;
  const tracker: Tracker = await createTracker({
    storage: options.storage,
    clock,
    retentionMaxRequests: options.historySize ?? 100,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const log = new CrewLog(clock, options.print);
  const services = new CrewServices(log, wait);

  const here = () => {
    const handle = currentRequest();
    if (!handle) throw new Error("agents run inside a request");
    return handle;
  };

  async function think(agent: string, prompt: string): Promise<string> {
    const handle = here();
    log.info(`Agent ${agent} thinking...`);
    await handle.increment("agent_calls");
    await handle.logEvent({ type: "agent_thinking", data: { agent } });
    const response = await trackedFetch(`${services.url}/llm`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ agent, prompt }),
    });
    const answer = (await response.json()) as {
      text: string;
      usage: { prompt_tokens: number; completion_tokens: number };
    };
    await handle.increment("tokens", answer.usage.prompt_tokens + answer.usage.completion_tokens);
    return answer.text;
  }

  async function tool(agent: string, name: string): Promise<string> {
    const handle = here();
    log.info(`Tool ${name} called`);
    await handle.increment("tool_calls");
    await handle.logEvent({ type: "tool_call", data: { agent, tool: name } });
    await wait(15);
    const run = TOOLS[name];
    if (!run) throw new Error(`unknown tool ${name}`);
    return run();
  }

  /** The researcher, served over HTTP by the services: it runs in the caller's request. */
  async function researcher(topic: string): Promise<{ findings: string }> {
    const findings = await think("researcher", `research ${topic}`);
    return { findings: `${findings}; ${await tool("researcher", "PingHost")}` };
  }

  async function execute(input: string): Promise<{ answer: string }> {
    const handle = here();
    log.info("Starting execution");
    await handle.increment("rounds");
    const plan = await think("orchestrator", `plan for: ${input}`);
    await think("clarifier", `clarify: ${input}`);
    log.info("Agent executor executing...");
    await handle.increment("agent_calls");
    await handle.logEvent({ type: "agent_executing", data: { agent: "executor" } });
    const readings = [
      await tool("executor", "GetCPUUsage"),
      await tool("executor", "GetMemoryUsage"),
    ];
    if (/disk/i.test(input)) readings.push(await tool("executor", "GetDiskUsage"));
    const research = await trackedFetch(`${services.url}/agents/researcher`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ topic: input }),
    });
    const { findings } = (await research.json()) as { findings: string };
    await handle.increment("rounds");
    const summary = await think("orchestrator", `summarise ${readings.join(", ")}`);
    log.info("Execution finished");
    return { answer: [plan, findings, summary].join(" | ") };
  }

  const app: FastifyInstance = Fastify({ logger: false });
  app.setErrorHandler(exampleErrors);
  await app.register(reqtrack, {
    tracker,
    routes: { "POST /api/crew": "crew_run" },
    // The history API reads requests; only crew runs are requests themselves.
    skip: ({ method, path }) => !(method === "POST" && path === "/api/crew"),
  });
  app.post("/api/crew", async (request) => {
    const body = (request.body ?? {}) as { input?: unknown; model?: unknown };
    if (typeof body.input !== "string" || body.input.length === 0) {
      throw new ValidationError("input", "must be a non-empty string");
    }
    const model = typeof body.model === "string" ? body.model : "gpt-4o";
    await here().annotate({ metadata: { user_input: body.input, model } });
    try {
      return { request_id: here().id, ...(await execute(body.input)) };
    } catch (error) {
      log.error(`Execution failed: ${(error as Error).message}`);
      throw error;
    }
  });
  app.get("/api/requests/:id", async (request, reply) => {
    const { id } = request.params as { id: string };
    const found = await tracker.getRequest(id).catch(() => null);
    if (!found)
      return reply
        .status(404)
        .send({ code: "RT_ERR_NOT_FOUND", message: `Request ${id} not found` });
    return { ...historyEntry(found), events: await crewEvents(tracker, id) };
  });
  app.get("/api/requests", async (request) => {
    const query = request.query as { limit?: string; status?: string };
    const limit = intParam("limit", query.limit, 10, 1, 100);
    const status = query.status === undefined ? undefined : STATUS_FILTER[query.status];
    if (query.status !== undefined && !status) {
      throw new ValidationError("status", "must be success, error, timeout or running");
    }
    const page = await tracker.listRequests({
      kind: "crew_run",
      limit,
      ...(status ? { status } : {}),
    });
    return page.items.map(historyEntry);
  });

  return {
    tracker,
    log,
    services,
    app,
    url: "",
    async listen(port = 0): Promise<string> {
      await services.start(researcher, tracker);
      log.info(`Crew ready, services at ${services.url}`);
      await app.listen({ port, host: "127.0.0.1" });
      const address = app.server.address();
      this.url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : port}`;
      return this.url;
    },
    async close(): Promise<void> {
      await app.close();
      await services.stop();
      await tracker.close();
    },
  };
}

export type AgentCrew = Awaited<ReturnType<typeof createAgentCrew>>;

const STATUS_FILTER: Record<string, "completed" | "failed" | "timeout" | "running"> = {
  success: "completed",
  error: "failed",
  timeout: "timeout",
  running: "running",
};
const STATUS_NAME: Record<string, string> = {
  completed: "success",
  failed: "error",
  timeout: "timeout",
};

/** A request in the crew's history shape (its RequestMetadata, snake_case). */
function historyEntry(r: RequestRecord) {
  const input = (r.input ?? {}) as { user_input?: string; model?: string };
  return {
    id: r.id,
    user_input: input.user_input ?? null,
    model: input.model ?? null,
    start_time: (r.startedAt ?? r.createdAt).toISOString(),
    end_time: r.completedAt?.toISOString() ?? null,
    duration_ms: r.durationMs,
    status: STATUS_NAME[r.status] ?? r.status,
    error_message: r.errorMessage,
    agent_calls: r.counters.agent_calls ?? 0,
    tool_calls: r.counters.tool_calls ?? 0,
    round_count: r.counters.rounds ?? 0,
    tokens: r.counters.tokens ?? 0,
  };
}

/** The request's logged events in order: agent thinking, tool calls. */
async function crewEvents(tracker: Tracker, id: string) {
  const history = await tracker.getEvents(id);
  return history
    .filter(
      (e) => e.type === "agent_thinking" || e.type === "tool_call" || e.type === "agent_executing",
    )
    .map((e) => {
      const data = (e.data ?? {}) as { agent?: string; tool?: string };
      return {
        type: e.type,
        agent: data.agent ?? null,
        tool: data.tool ?? null,
        timestamp: e.ts.toISOString(),
      };
    });
}
