import { describe, expect, it } from "vitest";
import { newRequestId, uuidv7 } from "../../src/core/ids.js";
import { laneFor } from "../../src/core/lanes.js";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("ids", () => {
  it("makes req_ + UUIDv7 ids carrying their creation time", () => {
    const now = Date.UTC(2026, 10, 22, 12, 0, 0);
    const id = newRequestId(now);
    expect(id).toMatch(/^req_/);
    const uuid = id.slice(4);
    expect(uuid).toMatch(UUID_V7);
    expect(Number.parseInt(uuid.replaceAll("-", "").slice(0, 12), 16)).toBe(now);
  });

  it("keeps ids made in the same millisecond unique and sorted", () => {
    const ids = Array.from({ length: 10_000 }, () => uuidv7(1_800_000_000_000));
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids.slice(0, 50)) expect(id).toMatch(UUID_V7);
  });
});

describe("lanes", () => {
  it.each([
    [1, "high"],
    [0.7, "high"],
    [0.69, "normal"],
    [0.3, "normal"],
    [0.29, "low"],
    [0, "low"],
  ] as const)("puts priority %d in the %s lane", (priority, lane) => {
    expect(laneFor(priority)).toBe(lane);
  });
});
