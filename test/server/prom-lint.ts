/**
 * The rules of `promtool check metrics` (Prometheus' promlint), checked in-process on the
 * text exposition format, so the metrics test never passes just because promtool is absent.
 * Returns one line per problem, in promtool's words; an empty list is a pass.
 */
export function lintMetrics(text: string): string[] {
  const problems: string[] = [];
  const help = new Map<string, string>();
  const types = new Map<string, string>();
  const samples = new Map<string, Set<string>>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, what, name = "", rest = ""] = meta;
      const seen = what === "HELP" ? help : types;
      if (seen.has(name)) problems.push(`${name}: metric not unique (${what} twice)`);
      seen.set(name, rest);
      continue;
    }
    if (line.startsWith("#")) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)( \d+)?$/.exec(line);
    if (!sample) {
      problems.push(`unparsable line: ${line}`);
      continue;
    }
    const [, name = "", labels = ""] = sample;
    const family = familyOf(name, types);
    const labelNames = [...labels.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)].map((m) => m[1] ?? "");
    (samples.get(family) ?? samples.set(family, new Set()).get(family))?.add(name);
    for (const label of labelNames) {
      if (/[A-Z]/.test(label) && !/^[A-Z_]+$/.test(label)) {
        problems.push(`${family}: label names should be written in 'snake_case' not 'camelCase'`);
      }
    }
  }
  for (const [name, type] of types) {
    if (!help.get(name)) problems.push(`${name}: no help text`);
    if (type === "counter" && !name.endsWith("_total")) {
      problems.push(`${name}: counter metrics should have "_total" suffix`);
    }
    if (type !== "counter" && name.endsWith("_total")) {
      problems.push(`${name}: non-counter metrics should not have "_total" suffix`);
    }
    if (type !== "histogram" && type !== "summary" && /_(bucket|count|sum)$/.test(name)) {
      problems.push(
        `${name}: non-histogram and non-summary metrics should not have "_${name.split("_").pop()}" suffix`,
      );
    }
    if (/[A-Z]/.test(name))
      problems.push(`${name}: metric names should be written in 'snake_case' not 'camelCase'`);
    if (name.includes(":")) problems.push(`${name}: metric names should not contain ':'`);
    for (const [unit, base] of NON_BASE_UNITS) {
      if (new RegExp(`(^|_)${unit}(_|$)`).test(name)) {
        problems.push(`${name}: use base unit "${base}" instead of "${unit}"`);
      }
    }
    for (const unit of ABBREVIATED_UNITS) {
      if (new RegExp(`(^|_)${unit}(_|$)`).test(name)) {
        problems.push(`${name}: metric names should not contain abbreviated units`);
      }
    }
    const type_ = new RegExp(`(^|_)${type}(_|$)`);
    if (type !== "untyped" && type_.test(name)) {
      problems.push(`${name}: metric name should not include type '${type}'`);
    }
    // Not promtool's, but the bug it surfaced: a prefix glued onto a name that already has it.
    if (/(^|_)([a-z]+)_\2_/.test(name)) problems.push(`${name}: repeated word in the name`);
  }
  for (const family of samples.keys()) {
    if (!types.has(family)) problems.push(`${family}: samples without # TYPE`);
  }
  return problems;
}

function familyOf(sample: string, types: ReadonlyMap<string, string>): string {
  if (types.has(sample)) return sample;
  const base = sample.replace(/_(bucket|count|sum)$/, "");
  return types.has(base) ? base : sample;
}

/** promlint's units and their base units (a subset: those a Node service could plausibly use). */
const NON_BASE_UNITS: ReadonlyArray<readonly [string, string]> = [
  ["milliseconds", "seconds"],
  ["microseconds", "seconds"],
  ["nanoseconds", "seconds"],
  ["minutes", "seconds"],
  ["hours", "seconds"],
  ["days", "seconds"],
  ["kilobytes", "bytes"],
  ["megabytes", "bytes"],
  ["gigabytes", "bytes"],
  ["kibibytes", "bytes"],
  ["mebibytes", "bytes"],
  ["gibibytes", "bytes"],
  ["bits", "bytes"],
  ["percent", "ratio"],
  ["fahrenheit", "celsius"],
];

/** Not "min" or "hr": promtool takes `_min_` as minimum (prom-client's eventloop_lag_min_seconds). */
const ABBREVIATED_UNITS = ["ms", "us", "ns", "sec", "kb", "mb", "gb", "kib", "mib", "gib"];
