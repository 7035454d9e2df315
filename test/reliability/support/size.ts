/**
 * How big a reliability run is. `npm test` runs the short sizes (seconds, CI's budget);
 * `npm run reliability` sets REQTRACK_RELIABILITY=long for the long ones. Each test reads its
 * figure here, so one switch picks the size of the whole suite.
 */
export const LONG = process.env.REQTRACK_RELIABILITY === "long";

/** `short` in a normal run, `long` in `npm run reliability`. */
export const sized = <T>(short: T, long: T): T => (LONG ? long : short);

/** One line of figures, printed so that a run's log shows what it measured. */
export function report(title: string, figures: Record<string, unknown>): void {
  const parts = Object.entries(figures).map(([k, v]) => `${k}=${String(v)}`);
  console.log(`[reliability] ${title}: ${parts.join(" ")}`);
}
