import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { createVideoBot, type VideoBot } from "../../examples/video-bot/app.js";
import { manualTime } from "../../examples/shared/time.js";
import { captureLogger, LEVEL, tempDir } from "../support/helpers.js";

// Seed 001: a Discord /veo video-generation bot.
describe("example video-bot (seed 001)", () => {
  let bot: VideoBot;
  let dir: ReturnType<typeof tempDir>;
  afterEach(async () => {
    await bot?.close();
    dir?.cleanup();
  });

  // Polls may be held at a gate, to look at a generation while it runs.
  let gate: Promise<void> | null = null;
  async function start(storage = ":memory:") {
    const time = manualTime();
    const log = captureLogger("info");
    gate = null;
    bot = await createVideoBot({
      storage,
      clock: time.clock,
      wait: async (ms) => {
        await time.wait(ms);
        if (ms >= 10_000 && gate) await gate;
      },
      logger: log.logger,
      busyTimeoutMs: 50,
      replayIntervalMs: 3_600_000,
    });
    return { time, lines: log.lines };
  }
  const veo = (prompt: string, extra: Record<string, string> = {}) =>
    bot.gateway.dispatch({
      command: "veo",
      userId: "u1",
      guildId: "guild-1",
      channelId: "videos",
      options: { prompt, ...extra },
    });
  const idIn = (reply: string | undefined) => /`(req_[^`]+)`/.exec(reply ?? "")?.[1] ?? "";

  it("answers /veo with the request id, shows generating, then completes with the video URLs", async () => {
    const { lines } = await start();
    let open = () => {};
    gate = new Promise<void>((resolve) => (open = resolve));
    const [reply] = await veo("a cat surfing at sunset on a long wave", { aspect_ratio: "9:16" });
    const id = idIn(reply);
    expect(reply).toMatch(/^Generating your video\.\.\. request `req_/);
    await bot.tracker.flush();
    while ((await bot.tracker.getRequest(id))?.status !== "running") await bot.tracker.flush();
    expect(await bot.tracker.getRequest(id)).toMatchObject({
      userId: "u1",
      tenantId: "guild-1",
      channelId: "videos",
      input: { parameters: { aspect_ratio: "9:16", duration: 8, resolution: "720p", audio: true } },
    });
    const [whileRunning] = await bot.gateway.dispatch({
      command: "history",
      userId: "u1",
      guildId: "guild-1",
      channelId: "videos",
      options: {},
    });
    expect(whileRunning).toContain(`${id} generating`);
    open();
    await bot.settle();
    const done = await bot.tracker.getRequest(id);
    expect(done).toMatchObject({
      status: "completed",
      result: { video_urls: ["https://storage.example/veo-1.mp4"] },
      input: {
        operation_name: "projects/demo/operations/veo-1",
        gcs_prefix: "gs://demo-bucket/veo/1/",
      },
      queueMs: 300,
      durationMs: 30_000,
    });
    // The seed's structured log lines.
    expect(lines.find((l) => l.msg === "request created")).toMatchObject({
      request_id: id,
      user_id: "u1",
      tenant_id: "guild-1",
      prompt_length: 38,
      prompt: "a cat surfing at sunset on a long wave".slice(0, 50),
      parameters: { aspect_ratio: "9:16" },
    });
    expect(lines.find((l) => l.new_status === "running")).toMatchObject({ queue_ms: 300 });
    expect(lines.find((l) => l.new_status === "completed")).toMatchObject({
      old_status: "running",
      duration_ms: 30_000,
      duration_seconds: 30,
      labels: { aspect_ratio: "9:16" },
    });
  });

  it("fails a refused prompt and times out one that never finishes after 5 minutes", async () => {
    const { lines } = await start();
    const failed = idIn((await veo("forbidden scene"))[0]);
    await bot.settle();
    const endless = idIn((await veo("an endless staircase"))[0]);
    await bot.settle();
    expect(await bot.tracker.getRequest(failed)).toMatchObject({
      status: "failed",
      errorMessage: "prompt refused by the safety filter",
    });
    expect(await bot.tracker.getRequest(endless)).toMatchObject({
      status: "timeout",
      errorMessage: "Generation timed out after 5 minutes",
      durationMs: 300_000,
    });
    expect(lines.find((l) => l.new_status === "failed")).toMatchObject({
      error_message: "prompt refused by the safety filter",
    });
  });

  it("refuses an invalid status transition with the seed's error and leaves the row untouched", async () => {
    const { lines } = await start();
    const id = idIn((await veo("a paper boat"))[0]);
    await bot.settle();
    const error = await bot.setStatus(id, "generating").catch((e: unknown) => e);
    expect(bot.isInvalidTransition(error)).toBe(true);
    expect((error as Error).message).toMatch(/^Invalid status transition: completed -> running/);
    expect(
      lines.some((l) => l.level === LEVEL.warn && /Invalid status transition/.test(l.msg)),
    ).toBe(true);
    expect((await bot.tracker.getRequest(id))?.status).toBe("completed");
    // Same status again: an idempotent no-op.
    await bot.setStatus(id, "completed");
  });

  it("/stats answers the 24 h counts, P50/P95/P99 and the failure rate", async () => {
    await start();
    for (const prompt of ["one", "two", "forbidden three", "four"]) {
      await veo(prompt);
      await bot.settle();
    }
    const [stats] = await bot.gateway.dispatch({
      command: "stats",
      userId: "u1",
      guildId: "guild-1",
      channelId: "videos",
      options: {},
    });
    expect(stats).toContain("Last 24 h: 4 requests (3 completed, 1 failed)");
    expect(stats).toMatch(/Latency P50 30\.\ds, P95 30\.\ds, P99 30\.\ds/);
    expect(stats).toContain("Failure rate 25.0%");
  });

  it("keeps answering with an id while the database is down, and backfills it afterwards", async () => {
    dir = tempDir();
    const path = dir.file("bot.db");
    await start(path);
    const blocker = new Database(path);
    blocker.exec("BEGIN EXCLUSIVE");
    const [reply] = await veo("made during the outage");
    const id = idIn(reply);
    expect(id).toMatch(/^req_/);
    await bot.settle();
    expect(bot.tracker.degraded).toBe(true);
    blocker.exec("COMMIT");
    blocker.close();
    expect(await bot.tracker.replayOutbox()).toBe(true);
    expect(await bot.tracker.getRequest(id)).toMatchObject({
      status: "completed",
      result: { video_urls: ["https://storage.example/veo-1.mp4"] },
    });
  });
});
