import { afterEach, describe, expect, it } from "vitest";
import { type ChatLanes, createChatLanes } from "../../examples/chat-lanes/app.js";
import { manualTime } from "../../examples/shared/time.js";
import { silentLogger } from "../support/helpers.js";

// Seed 000: a chat-request tracker with priority lanes.
describe("example chat-lanes (seed 000)", () => {
  let app: ChatLanes;
  afterEach(() => app?.close());

  async function start() {
    const time = manualTime();
    app = await createChatLanes({
      storage: ":memory:",
      clock: time.clock,
      wait: time.wait,
      logger: silentLogger(),
      watchdogIntervalMs: 0,
    });
    return time;
  }

  it("processors claim the high lane before normal before low, oldest first within a lane", async () => {
    const time = await start();
    const low = await app.submit({ channelId: "c1", userId: "u1", message: "hey", priority: 0.1 });
    time.advance(1);
    const normal1 = await app.submit({
      channelId: "c1",
      userId: "u2",
      message: "hi",
      priority: 0.5,
    });
    time.advance(1);
    const high = await app.submit({
      channelId: "c2",
      userId: "u3",
      message: "refund",
      priority: 0.9,
    });
    time.advance(1);
    const normal2 = await app.submit({
      channelId: "c1",
      userId: "u1",
      message: "hello",
      priority: 0.4,
    });
    expect([low.lane, normal1.lane, high.lane]).toEqual(["low", "normal", "high"]);
    const order = [];
    for (;;) {
      const next = await app.processNext("processor-1");
      if (!next) break;
      order.push(next.id);
    }
    expect(order).toEqual([high.id, normal1.id, normal2.id, low.id]);
  });

  it("writes the intent and entities found after creation to the request, and into its history", async () => {
    await start();
    const req = await app.submit({
      channelId: "c1",
      userId: "u1",
      message: "Book room B2 for Monday",
    });
    expect(req.intent).toBeNull();
    await app.processNext("processor-1");
    const done = await app.tracker.getRequest(req.id);
    expect(done).toMatchObject({
      status: "completed",
      intent: "book_room",
      entities: { day: "monday", room: "B2" },
      workerId: "processor-1",
      result: { reply: "(book_room) on it for monday." },
    });
    const history = (await app.tracker.getEvents(req.id)).map((e) => e.type);
    expect(history).toEqual(["request_created", "status_changed", "annotated", "status_changed"]);
  });

  it("keeps a failing model's error on the request", async () => {
    await start();
    const req = await app.submit({ channelId: "c1", userId: "u1", message: "crash please" });
    await app.processNext("processor-1");
    expect(await app.tracker.getRequest(req.id)).toMatchObject({
      status: "failed",
      errorMessage: "nlu model unavailable (fake outage)",
    });
  });

  it("tracks active requests and times out a run after 5 minutes", async () => {
    const time = await start();
    const req = await app.submit({ channelId: "c1", userId: "u1", message: "hello" });
    await app.processNext("processor-9", { hang: true });
    expect((await app.active()).map((r) => [r.id, r.workerId])).toEqual([[req.id, "processor-9"]]);
    time.advance(4 * 60_000);
    await app.sweep();
    expect((await app.tracker.getRequest(req.id))?.status).toBe("running");
    time.advance(60_000 + 1);
    await app.sweep();
    expect(await app.tracker.getRequest(req.id)).toMatchObject({
      status: "timeout",
      errorMessage: "Generation timed out after 5 minutes",
    });
    expect(await app.active()).toEqual([]);
  });

  it("times out a waiting request whose deadline passed, and cleans up stale ones", async () => {
    const time = await start();
    const urgent = await app.submit({
      channelId: "c1",
      userId: "u1",
      message: "hello",
      deadline: new Date(time.clock() + 30_000),
    });
    const patient = await app.submit({ channelId: "c1", userId: "u2", message: "hi" });
    time.advance(30_001);
    await app.sweep();
    expect((await app.tracker.getRequest(urgent.id))?.status).toBe("timeout");
    expect((await app.tracker.getRequest(patient.id))?.status).toBe("pending");
    time.advance(60 * 60_000);
    await app.sweep();
    expect((await app.tracker.getRequest(patient.id))?.status).toBe("cancelled");
  });

  it("answers a user's history newest first, a search by channel and date, and the conversation chain", async () => {
    const time = await start();
    const first = await app.submit({ channelId: "general", userId: "ada", message: "hi" });
    time.advance(24 * 3600_000);
    const dayTwo = time.clock();
    const second = await app.submit({
      channelId: "support",
      userId: "ada",
      message: "refund",
      parentId: first.id,
    });
    const other = await app.submit({ channelId: "general", userId: "lin", message: "hey" });
    expect((await app.userHistory("ada")).map((r) => r.id)).toEqual([second.id, first.id]);
    const generalToday = await app.search({ channelId: "general", from: new Date(dayTwo) });
    expect(generalToday.map((r) => r.id)).toEqual([other.id]);
    const generalDayOne = await app.search({ channelId: "general", to: new Date(dayTwo) });
    expect(generalDayOne.map((r) => r.id)).toEqual([first.id]);
    expect((await app.followUps(first.id)).map((r) => r.id)).toEqual([second.id]);
  });
});
