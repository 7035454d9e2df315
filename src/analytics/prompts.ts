import type { PromptCount } from "../store/analytics-store.js";

/**
 * The form prompts are counted in for "most common prompts": trimmed, runs of
 * whitespace collapsed to one space, case-folded. Upper- then lower-casing folds what
 * lower-casing alone misses ("Straße" and "STRASSE" both become "strasse").
 */
export function normalizePrompt(prompt: string): string {
  return prompt.trim().replace(/\s+/gu, " ").toUpperCase().toLowerCase();
}

/** The `limit` most frequent normalized prompts, ties broken alphabetically; empty ones skipped. */
export function topPrompts(counts: readonly PromptCount[], limit = 10): PromptCount[] {
  const merged = new Map<string, number>();
  for (const { prompt, count } of counts) {
    const key = normalizePrompt(prompt);
    if (key !== "") merged.set(key, (merged.get(key) ?? 0) + count);
  }
  return [...merged.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, limit)
    .map(([prompt, count]) => ({ prompt, count }));
}
