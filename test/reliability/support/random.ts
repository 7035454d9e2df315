/**
 * A seeded PRNG (mulberry32): the random moments of a run can be replayed with
 * REQTRACK_SEED=<seed>, which every run prints.
 */
export function seededRandom(seed = Number(process.env.REQTRACK_SEED ?? Date.now() % 2 ** 31)) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return { seed, next, between: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo)) };
}
