import { createServer, type IncomingHttpHeaders } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseTraceParent } from "../../src/context/trace-parent.js";
import { createTracker, propagationHeaders, trackedFetch, type Tracker } from "../../src/index.js";
import { captureLogger } from "../support/helpers.js";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";

describe("propagationHeaders()", () => {
  let tracker: Tracker;
  beforeAll(async () => {
    tracker = await createTracker({
      storage: ":memory:",
      logger: captureLogger().logger,
      watchdogIntervalMs: 0,
    });
  });
  afterAll(() => tracker.close());

  it("is empty outside a request scope", () => {
    expect(propagationHeaders()).toEqual({});
  });

  it("gives the request id, and a trace id taken from the req_ UUID when none came in", async () => {
    const req = await tracker.createRequest({ userId: "u" });
    const uuidHex = req.id.slice("req_".length).replaceAll("-", "");
    const [first, second] = tracker.withRequest(req, () => [
      propagationHeaders(),
      propagationHeaders(),
    ]);
    expect(first).toMatchObject({
      "X-Request-ID": req.id,
      "X-Correlation-ID": uuidHex,
      traceparent: expect.stringMatching(new RegExp(`^00-${uuidHex}-[0-9a-f]{16}-01$`)),
    });
    // One scope, one parent span: every call from it names the same one.
    expect(second).toEqual(first);
  });

  it("continues an incoming trace: same trace id and flags, our own span id", () => {
    const incoming = `00-${TRACE}-00f067aa0ba902b7-00`;
    const headers = tracker.withRequest("req-traced", () => propagationHeaders(), {
      traceparent: incoming,
    });
    const parsed = parseTraceParent((headers as { traceparent: string }).traceparent);
    expect(parsed).toMatchObject({ traceId: TRACE, flags: "00" });
    expect(parsed?.spanId).not.toBe("00f067aa0ba902b7");
    expect(headers).toMatchObject({ "X-Request-ID": "req-traced", "X-Correlation-ID": TRACE });
  });

  it("keeps a given correlation id", () => {
    const headers = tracker.withRequest("req-c", () => propagationHeaders(), {
      correlationId: "conv-77",
    });
    expect(headers).toMatchObject({ "X-Correlation-ID": "conv-77" });
  });

  it.each([
    ["valid", `00-${TRACE}-00f067aa0ba902b7-01`, true],
    ["upper case is read as lower case", `00-${TRACE.toUpperCase()}-00F067AA0BA902B7-01`, true],
    ["a future version with extra fields", `01-${TRACE}-00f067aa0ba902b7-01-extra`, true],
    ["version ff", `ff-${TRACE}-00f067aa0ba902b7-01`, false],
    ["an all-zero trace id", `00-${"0".repeat(32)}-00f067aa0ba902b7-01`, false],
    ["an all-zero parent id", `00-${TRACE}-${"0".repeat(16)}-01`, false],
    ["version 00 with extra fields", `00-${TRACE}-00f067aa0ba902b7-01-extra`, false],
    ["a short trace id", `00-${TRACE.slice(1)}-00f067aa0ba902b7-01`, false],
  ])("parses traceparent: %s", (_name, header, valid) => {
    expect(parseTraceParent(header) !== undefined).toBe(valid);
  });
});

describe("trackedFetch()", () => {
  let url: string;
  let received: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    received.push(req.headers);
    res.end("ok");
  });
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/generate`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("adds the propagation headers inside a scope, lets the caller's win, and adds none outside", async () => {
    const tracker = await createTracker({
      storage: ":memory:",
      logger: captureLogger().logger,
      watchdogIntervalMs: 0,
    });
    received = [];
    await tracker.withRequest("req-out-1", async () => {
      await trackedFetch(url, { method: "POST", body: "{}" });
      await trackedFetch(new URL(url), { headers: { "X-Correlation-ID": "mine" } });
    });
    await trackedFetch(url);
    expect(received[0]).toMatchObject({
      "x-request-id": "req-out-1",
      traceparent: expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/),
    });
    expect(received[1]).toMatchObject({ "x-request-id": "req-out-1", "x-correlation-id": "mine" });
    expect(received[2]?.["x-request-id"]).toBeUndefined();
    expect(received[2]?.traceparent).toBeUndefined();
    await tracker.close();
  });
});
