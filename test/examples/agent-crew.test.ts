import { afterEach, describe, expect, it } from "vitest";
import { type AgentCrew, createAgentCrew } from "../../examples/agent-crew/app.js";
import { fakeCompletion } from "../../examples/agent-crew/services.js";
import { manualTime } from "../../examples/shared/time.js";
import { silentLogger } from "../support/helpers.js";

// Seed 003: a multi-agent crew whose request id goes through every agent, tool and log line.
describe("example agent-crew (seed 003)", () => {
  let crew: AgentCrew | undefined;
  afterEach(async () => {
    await crew?.close();
    crew = undefined;
  });

  async function start(historySize?: number) {
    const time = manualTime();
    crew = await createAgentCrew({
      storage: ":memory:",
      clock: time.clock,
      wait: time.wait,
      logger: silentLogger(),
      ...(historySize ? { historySize } : {}),
    });
    await crew.listen(0);
    return crew;
  }
  const run = async (c: AgentCrew, input: string) => {
    const response = await fetch(`${c.url}/api/crew`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input, model: "gpt-4o-mini" }),
    });
    return { response, body: (await response.json()) as Record<string, unknown> };
  };

  it("carries one id through every agent, tool, log line and outgoing call, in process and over HTTP", async () => {
    const c = await start();
    const [a, b] = await Promise.all([run(c, "Check my system"), run(c, "Why is the CPU busy?")]);
    const ids = [a.response.headers.get("x-request-id"), b.response.headers.get("x-request-id")];
    expect(ids[0]).toMatch(/^req_[0-9a-f-]{36}$/);
    expect(ids[1]).not.toBe(ids[0]);
    expect(a.body.request_id).toBe(ids[0]);
    for (const id of ids as string[]) {
      const lines = c.log.of(id);
      expect(lines).toContain("Agent orchestrator thinking...");
      expect(lines).toContain("Agent clarifier thinking...");
      expect(lines).toContain("Agent executor executing...");
      // The researcher runs behind local HTTP and still logs under the caller's id.
      expect(lines).toContain("Agent researcher thinking...");
      expect(lines).toContain("LLM completion for researcher");
      expect(lines).toContain("Tool GetCPUUsage called");
      expect(lines).toContain("Tool PingHost called");
      // Every call the request made (LLM, remote agent, the agent's own LLM call) carried it.
      const calls = c.services.callsOf(id);
      expect(calls.map((x) => x.path).sort()).toEqual([
        "/agents/researcher",
        "/llm",
        "/llm",
        "/llm",
        "/llm",
      ]);
    }
    // No call left without an id, and no line of one request under the other's.
    expect(c.services.received.every((x) => ids.includes(x.headers["x-request-id"] ?? null))).toBe(
      true,
    );
    const [first, second] = ids as string[];
    expect(c.log.of(first as string).length + c.log.of(second as string).length).toBe(
      c.log.lines.filter((l) => !l.includes("[unknown]")).length,
    );
  });

  it('logs "unknown" outside a request', async () => {
    const c = await start();
    expect(c.log.lines.find((l) => l.includes("Crew ready"))).toMatch(
      /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] \[INFO\] \[unknown\] Crew ready/,
    );
    c.log.info("between requests");
    expect(c.log.lines.at(-1)).toContain("[unknown] between requests");
  });

  it("counts agents, tools, rounds and tokens on the request, and serves them in the history API", async () => {
    const c = await start();
    const { response } = await run(c, "Check my system");
    const id = response.headers.get("x-request-id") as string;
    await c.tracker.flush();
    const tokens = c.services
      .callsOf(id, "/llm")
      .map((x) => fakeCompletion(String(x.body.agent), String(x.body.prompt)).usage)
      .reduce((sum, u) => sum + u.prompt_tokens + u.completion_tokens, 0);
    expect(tokens).toBeGreaterThan(0);
    const entry = (await (await fetch(`${c.url}/api/requests/${id}`)).json()) as Record<
      string,
      unknown
    > & { events: { type: string; agent: string | null; tool: string | null }[] };
    expect(entry).toMatchObject({
      id,
      user_input: "Check my system",
      model: "gpt-4o-mini",
      status: "success",
      agent_calls: 5,
      tool_calls: 3,
      round_count: 2,
      tokens,
    });
    expect(typeof entry.duration_ms).toBe("number");
    expect(entry.events.filter((e) => e.type === "tool_call").map((e) => e.tool)).toEqual([
      "GetCPUUsage",
      "GetMemoryUsage",
      "PingHost",
    ]);
    expect(entry.events[0]).toMatchObject({ type: "agent_thinking", agent: "orchestrator" });
  });

  it("records a failing tool as an error, filters the history by status, and answers bad input with 4xx", async () => {
    const c = await start();
    await run(c, "Check my system");
    const failed = await run(c, "Check the disk");
    expect(failed.response.status).toBe(500);
    const failedId = failed.response.headers.get("x-request-id") as string;
    expect(c.log.of(failedId)).toContain("Execution failed: GetDiskUsage: permission denied");
    await c.tracker.flush();
    const errors = (await (await fetch(`${c.url}/api/requests?status=error`)).json()) as {
      id: string;
      status: string;
      error_message: string;
    }[];
    expect(errors.map((e) => e.id)).toEqual([failedId]);
    expect(errors[0]?.error_message).toContain("permission denied");
    const all = (await (await fetch(`${c.url}/api/requests?limit=1`)).json()) as unknown[];
    expect(all).toHaveLength(1);
    const bad = await fetch(`${c.url}/api/requests?status=nope`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: "RT_ERR_VALIDATION", field: "status" });
    expect((await fetch(`${c.url}/api/requests?limit=0`)).status).toBe(400);
    expect((await fetch(`${c.url}/api/requests/req_missing`)).status).toBe(404);
    const empty = await run(c, "");
    expect(empty.response.status).toBe(400);
    expect(empty.body).toMatchObject({ field: "input" });
  });

  it("keeps only the newest N requests in its history", async () => {
    const c = await start(3);
    for (const input of ["one", "two", "three", "four", "five"]) await run(c, input);
    await c.tracker.flush();
    await c.tracker.sweep();
    const kept = (await (await fetch(`${c.url}/api/requests`)).json()) as { user_input: string }[];
    expect(kept.map((r) => r.user_input)).toEqual(["five", "four", "three"]);
  });
});
