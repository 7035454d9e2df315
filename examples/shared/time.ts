/**
 * How an example's fake services spend their latency. The demo waits for real; tests pass a
 * function that moves an injected clock instead, so nothing ever sleeps in a test.
 */
export type Wait = (ms: number) => Promise<void>;

export const realWait: Wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A clock plus a `wait` that advances it: what the examples' tests inject. */
export function manualTime(start = Date.UTC(2026, 0, 15, 9, 0, 0)) {
  let now = start;
  return {
    clock: () => now,
    wait: (async (ms: number) => {
      now += ms;
    }) as Wait,
    advance(ms: number) {
      now += ms;
    },
  };
}

/** A deterministic pseudo-random stream (mulberry32): fakes vary, but the same way every run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
