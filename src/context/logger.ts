import { type Logger, pino } from "pino";

export type { Logger };

/**
 * The logger reqtrack uses when the caller brings none: pino JSON on stdout, level from
 * REQTRACK_LOG_LEVEL (default "info"). Pass your own pino instance to merge reqtrack's
 * lines into your app's log stream.
 */
export function createDefaultLogger(): Logger {
  return pino({ name: "reqtrack", level: process.env.REQTRACK_LOG_LEVEL ?? "info" });
}

/** Seed 001's rule: a log line carries at most the first 50 characters of a prompt. */
export function promptPreview(prompt: string | null | undefined): string | undefined {
  return prompt == null ? undefined : prompt.slice(0, 50);
}
