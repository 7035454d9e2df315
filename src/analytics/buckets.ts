import { GRAIN_MS, type TimeRange } from "../store/analytics-store.js";

/**
 * Calendar arithmetic, all in UTC: days start at 00:00Z, weeks are ISO weeks (Monday
 * 00:00Z), months are calendar months. Report periods are whole days; stats windows are exact
 * rolling windows ending now (issue 13), read from rollups with their edges from finer rollups
 * or rows.
 */
export type CalendarBucket = "day" | "week" | "month";

const HOUR = GRAIN_MS.hour;
const DAY = GRAIN_MS.day;

export function floorTo(ms: number, grainMs: number): number {
  return Math.floor(ms / grainMs) * grainMs;
}

/** Start of the day, ISO week or month holding `ms`. */
export function calendarStart(ms: number, bucket: CalendarBucket): number {
  const day = floorTo(ms, DAY);
  if (bucket === "day") return day;
  if (bucket === "week") {
    // getUTCDay: Sunday 0 ... Saturday 6; ISO weeks start on Monday.
    const sinceMonday = (new Date(day).getUTCDay() + 6) % 7;
    return day - sinceMonday * DAY;
  }
  const d = new Date(day);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/** Start of the bucket after the one starting at `start`. */
export function calendarNext(start: number, bucket: CalendarBucket): number {
  if (bucket === "day") return start + DAY;
  if (bucket === "week") return start + 7 * DAY;
  const d = new Date(start);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/** Every bucket start from the one holding `from` up to (not including) `to`. */
export function calendarStarts(range: TimeRange, bucket: CalendarBucket): number[] {
  const starts: number[] = [];
  for (let s = calendarStart(range.from, bucket); s < range.to; s = calendarNext(s, bucket)) {
    starts.push(s);
  }
  return starts;
}

/** "24h" -> 24, "7d" -> 168. The format is checked by the input schema. */
export function windowHours(window: string): number {
  const amount = Number.parseInt(window, 10);
  return window.endsWith("d") ? amount * 24 : amount;
}

/**
 * The last `hours` hours up to now, both ends included: [now - hours, now]. A "24h" window at
 * 12:20 covers 12:20 yesterday to 12:20 today, so a request created an hour before the window
 * closes counts exactly like one created a minute after it opened. As a half-open range:
 * { from: now - hours, to: now + 1 }.
 */
export function rollingWindow(now: number, hours: number): TimeRange {
  return { from: now - hours * HOUR, to: now + 1 };
}

/** [from, to) widened to whole UTC days. */
export function dayRange(from: number, to: number): TimeRange {
  return { from: floorTo(from, DAY), to: Math.ceil(to / DAY) * DAY };
}
