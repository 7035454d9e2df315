/** Formatting shared by the pages: the viewer's zone for times, UTC on hover. */

export const usd = (value: number | null | undefined): string =>
  value === null || value === undefined
    ? "–"
    : value === 0
      ? "$0"
      : value < 0.01
        ? `$${value.toFixed(4)}`
        : `$${value.toFixed(2)}`;

export const int = (value: number | null | undefined): string =>
  value === null || value === undefined ? "–" : Math.round(value).toLocaleString();

export const pct = (value: number | null | undefined): string =>
  value === null || value === undefined ? "–" : `${value.toFixed(1)}%`;

/** A duration in ms as "850 ms", "6.5 s", "4 min 2 s", "3 h 5 min". */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  if (ms < 86_400_000)
    return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min`;
  return `${Math.floor(ms / 86_400_000)} d ${Math.round((ms % 86_400_000) / 3_600_000)} h`;
}

const local = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

/** A time in the viewer's zone. */
export const localTime = (iso: string): string => local.format(new Date(iso));

/** The same time in UTC, for the hover title. */
export const utcTime = (iso: string): string =>
  new Date(iso)
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, " UTC");
