/**
 * Renders rows as a plain-text table with a header and aligned columns. With `maxWidth`
 * (the terminal's columns), the widest columns are cut with "…" until the table fits.
 */
export function formatTable(rows: readonly Record<string, string>[], maxWidth?: number): string {
  const first = rows[0];
  if (!first) return "(none)";
  const columns = Object.keys(first);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? "").length)));
  if (maxWidth !== undefined) {
    const total = () => widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1);
    while (total() > maxWidth) {
      const widest = widths.indexOf(Math.max(...widths));
      const floor = Math.max(4, (columns[widest] ?? "").length);
      if ((widths[widest] ?? 0) <= floor) break;
      widths[widest] = (widths[widest] ?? 0) - 1;
    }
  }
  const fit = (cell: string, width: number) =>
    cell.length > width ? `${cell.slice(0, width - 1)}…` : cell.padEnd(width);
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => fit(cell, widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [
    line(columns),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map((r) => line(columns.map((c) => r[c] ?? ""))),
  ].join("\n");
}

/** The width to fit tables in: the terminal's, or none when stdout is not a terminal. */
export function terminalWidth(): number | undefined {
  return process.stdout.isTTY ? process.stdout.columns : undefined;
}
