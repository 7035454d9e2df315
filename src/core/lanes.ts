import type { Lane } from "./types.js";

/** Lane thresholds: high >= 0.7, normal >= 0.3, low below. */
export const HIGH_PRIORITY = 0.7;
export const NORMAL_PRIORITY = 0.3;

export function laneFor(priority: number): Lane {
  if (priority >= HIGH_PRIORITY) return "high";
  if (priority >= NORMAL_PRIORITY) return "normal";
  return "low";
}
