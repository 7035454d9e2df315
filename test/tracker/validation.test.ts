import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTracker, type Tracker, ValidationError } from "../../src/index.js";
import { captureLogger } from "../support/helpers.js";

describe("bad input changes nothing and names the field", () => {
  let tracker: Tracker;

  beforeEach(async () => {
    tracker = await createTracker({ storage: ":memory:", logger: captureLogger().logger });
  });
  afterEach(async () => {
    await tracker.close();
  });

  const expectRejected = async (promise: Promise<unknown>, field: string, message?: RegExp) => {
    const error = await promise.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ code: "RT_ERR_VALIDATION", field });
    if (message) expect((error as Error).message).toMatch(message);
    expect((await tracker.listRequests({ includeDeleted: true })).total).toBe(0);
  };

  const circular: Record<string, unknown> = {};
  circular.self = circular;

  it.each([
    ["priority above 1", { userId: "u", priority: 1.5 }, "priority", /between 0 and 1/],
    ["negative priority", { userId: "u", priority: -0.1 }, "priority", /between 0 and 1/],
    ["an empty userId", { userId: "" }, "userId", /empty/],
    ["a missing userId", {}, "userId", /required/],
    [
      "an input over 1 MiB as JSON",
      { userId: "u", input: { blob: "x".repeat(1024 * 1024) } },
      "input",
      /larger than 1048576 bytes/,
    ],
    ["a BigInt in input", { userId: "u", input: { n: 10n } }, "input", /bigint/],
    ["NaN in input", { userId: "u", input: { score: Number.NaN } }, "input", /NaN/],
    ["a function in input", { userId: "u", input: { f: () => 1 } }, "input", /function/],
    ["a circular input", { userId: "u", input: circular }, "input", /circular/],
    ["a Map in entities", { userId: "u", entities: new Map() }, "entities", /Map/],
    [
      "an invalid Date deadline",
      { userId: "u", deadline: new Date("nope") },
      "deadline",
      /valid Date/,
    ],
    ["a malformed id", { userId: "u", id: "has spaces" }, "id", /letters, digits/],
    ["an unknown field", { userId: "u", colour: "red" }, "input", /unknown field.*colour/],
    ["a non-string tag", { userId: "u", tags: [1] }, "tags.0", undefined],
    // PostgreSQL cannot store NUL in text; refused on every store so both accept the same.
    ["a NUL in a tag", { userId: "u", tags: ["a\u0000b"] }, "tags.0", /NUL/],
    ["a NUL in the prompt", { userId: "u", initialMessage: "hi\u0000" }, "initialMessage", /NUL/],
  ])("rejects %s", async (_label, input, field, message) => {
    await expectRejected(tracker.createRequest(input as never), field, message);
  });

  it("rejects an unknown status filter and a negative limit", async () => {
    await expect(tracker.listRequests({ status: "exploded" as never })).rejects.toMatchObject({
      field: "status",
    });
    await expect(tracker.listRequests({ limit: -1 })).rejects.toMatchObject({
      field: "limit",
      message: "limit: must not be negative",
    });
    await expect(tracker.getUserRequests("u", { offset: -5 })).rejects.toMatchObject({
      field: "offset",
    });
    await expect(tracker.getUserRequests("")).rejects.toMatchObject({ field: "userId" });
    await expect(tracker.listRequests({ cursor: "garbage" })).rejects.toMatchObject({
      field: "cursor",
    });
  });

  it("validates every write and leaves the request as it was", async () => {
    const req = await tracker.createRequest({ userId: "u" });
    await tracker.startRequest(req);
    const before = await tracker.getRequest(req.id);
    await expect(
      tracker.logEvent(req, { type: "x", severity: "fatal" as never }),
    ).rejects.toMatchObject({ field: "severity" });
    await expect(
      tracker.recordCost(req, { service: "openai", amountUsd: -1 }),
    ).rejects.toMatchObject({ field: "amountUsd" });
    await expect(
      tracker.recordCost(req, { service: "openai", amountUsd: Number.POSITIVE_INFINITY }),
    ).rejects.toMatchObject({ field: "amountUsd" });
    await expect(tracker.increment(req, "Tool Calls")).rejects.toMatchObject({ field: "counter" });
    await expect(tracker.startStage(req, "")).rejects.toMatchObject({ field: "stage" });
    await expect(tracker.completeRequest(req, { when: new Date() })).rejects.toMatchObject({
      field: "result",
    });
    await expect(
      tracker.failRequest(req, { message: "x", details: { n: 1n } as never }),
    ).rejects.toMatchObject({ field: "details" });
    await expect(tracker.startRequest("")).rejects.toMatchObject({ field: "id" });
    expect(await tracker.getRequest(req.id)).toEqual(before);
    expect((await tracker.getEvents(req)).map((e) => e.type)).toEqual([
      "request_created",
      "status_changed",
    ]);
  });

  it("rejects bad options when the tracker is created", async () => {
    await expect(createTracker({ storage: ":memory:", defaultTimeoutMs: 0 })).rejects.toMatchObject(
      { field: "defaultTimeoutMs" },
    );
    await expect(
      createTracker({ storage: ":memory:", onStoreError: "ignore" as never }),
    ).rejects.toMatchObject({ field: "onStoreError" });
  });
});
