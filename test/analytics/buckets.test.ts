import { describe, expect, it } from "vitest";
import {
  calendarNext,
  calendarStart,
  calendarStarts,
  dayRange,
  rollingWindow,
} from "../../src/analytics/buckets.js";

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe("calendar buckets (UTC)", () => {
  it("days start at 00:00Z whatever the local time zone", () => {
    expect(iso(calendarStart(at("2026-03-29T23:59:59.999Z"), "day"))).toBe(
      "2026-03-29T00:00:00.000Z",
    );
    expect(iso(calendarNext(at("2026-03-29T00:00:00Z"), "day"))).toBe("2026-03-30T00:00:00.000Z");
  });

  it("weeks are ISO weeks: Monday 00:00Z, across year ends", () => {
    // 2026-01-01 is a Thursday: its ISO week (2026-W01) starts on Monday 2025-12-29.
    expect(iso(calendarStart(at("2026-01-01T10:00:00Z"), "week"))).toBe("2025-12-29T00:00:00.000Z");
    // A Sunday belongs to the week that started six days before.
    expect(iso(calendarStart(at("2026-01-11T23:00:00Z"), "week"))).toBe("2026-01-05T00:00:00.000Z");
    expect(iso(calendarStart(at("2026-01-12T00:00:00Z"), "week"))).toBe("2026-01-12T00:00:00.000Z");
  });

  it("months are calendar months of any length", () => {
    expect(iso(calendarStart(at("2024-02-29T12:00:00Z"), "month"))).toBe(
      "2024-02-01T00:00:00.000Z",
    );
    expect(iso(calendarNext(at("2024-02-01T00:00:00Z"), "month"))).toBe("2024-03-01T00:00:00.000Z");
    expect(iso(calendarNext(at("2025-12-01T00:00:00Z"), "month"))).toBe("2026-01-01T00:00:00.000Z");
  });

  it("lists every bucket overlapping a range, the partial first one included", () => {
    const starts = calendarStarts(
      { from: at("2026-01-28T00:00:00Z"), to: at("2026-03-02T00:00:00Z") },
      "month",
    );
    expect(starts.map(iso)).toEqual([
      "2026-01-01T00:00:00.000Z",
      "2026-02-01T00:00:00.000Z",
      "2026-03-01T00:00:00.000Z",
    ]);
  });

  it("windows are exact rolling windows ending now (now included); report periods whole days", () => {
    const window = rollingWindow(at("2026-01-15T12:20:00Z"), 24);
    expect([iso(window.from), iso(window.to)]).toEqual([
      "2026-01-14T12:20:00.000Z",
      "2026-01-15T12:20:00.001Z",
    ]);
    const days = dayRange(at("2026-01-10T08:00:00Z"), at("2026-01-15T12:00:00Z"));
    expect([iso(days.from), iso(days.to)]).toEqual([
      "2026-01-10T00:00:00.000Z",
      "2026-01-16T00:00:00.000Z",
    ]);
  });
});
