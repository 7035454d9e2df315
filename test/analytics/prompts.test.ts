import { describe, expect, it } from "vitest";
import { normalizePrompt } from "../../src/analytics/prompts.js";
import { createTracker } from "../../src/index.js";
import { fakeClock, silentLogger } from "../support/helpers.js";
import { describeEachStorage } from "../support/storages.js";

describe("prompt normalization (behaviour 2)", () => {
  it("normalizes: trimmed, whitespace collapsed, case-folded", () => {
    expect(normalizePrompt("  Make a   VIDEO\tabout\n cats  ")).toBe("make a video about cats");
    expect(normalizePrompt("STRASSE")).toBe(normalizePrompt("Straße"));
    expect(normalizePrompt(" \n\t ")).toBe("");
  });
});

describeEachStorage("top prompts (behaviour 2)", (storage) => {
  it("counts spelling variants of one prompt as one, from initialMessage or input.prompt", async () => {
    const time = fakeClock();
    const tracker = await createTracker({
      ...(await storage.fresh()),
      clock: time.clock,
      logger: silentLogger(),
      watchdogIntervalMs: 0,
    });
    const ask = (message: string, viaInput = false) =>
      tracker.createRequest({
        userId: "u",
        tenantId: "guild-42",
        ...(viaInput
          ? { input: { prompt: message, parameters: { seconds: 8 } } }
          : { initialMessage: message }),
      });
    await ask("A drone shot over a fjord");
    await ask("  a DRONE shot   over a fjord ");
    await ask("a drone shot over a fjord\n", true);
    await ask("Cats");
    await ask("cats", true);
    await ask("   "); // nothing to count
    await tracker.createRequest({ userId: "u", tenantId: "guild-42", input: { prompt: 42 } });
    await tracker.createRequest({ userId: "u", tenantId: "other", initialMessage: "cats" });
    const deleted = await ask("Dogs");
    await tracker.deleteRequest(deleted.id);

    const stats = await tracker.stats.group({ by: "tenantId", value: "guild-42" });
    expect(stats.topPrompts).toEqual([
      { prompt: "a drone shot over a fjord", count: 3 },
      { prompt: "cats", count: 2 },
    ]);
    // The soft-deleted request still counts as a request; only its prompt is not shown.
    expect(stats.total).toBe(8);
    await tracker.close();
  });

  it("keeps the 10 most common, ties in alphabetical order", async () => {
    const tracker = await createTracker({
      ...(await storage.fresh()),
      logger: silentLogger(),
      watchdogIntervalMs: 0,
    });
    const prompts = "abcdefghijkl".split("").map((c) => `prompt ${c}`);
    for (const [i, prompt] of prompts.entries()) {
      for (let n = 0; n < (i < 2 ? 3 : 1); n++) {
        await tracker.createRequest({ userId: "u", channelId: "c", initialMessage: prompt });
      }
    }
    const { topPrompts } = await tracker.stats.group({ by: "channelId", value: "c" });
    expect(topPrompts.map((p) => `${p.prompt}:${p.count}`)).toEqual([
      "prompt a:3",
      "prompt b:3",
      ...prompts.slice(2, 10).map((p) => `${p}:1`),
    ]);
    await tracker.close();
  });
});
