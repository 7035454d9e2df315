/**
 * Renders rows as a plain-text table with a header and aligned columns. With `maxWidth`
 * (the terminal's columns), the last columns are dropped while even cut down they would not
 * fit beside an uncut first column (the id, to copy), then the widest are cut with "…".
 */
export function formatTable(rows: readonly Record<string, string>[], maxWidth?: number): string {
  const first = rows[0];
  if (!first) return "(none)";
  const columns = Object.keys(first);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? "").length)));
  if (maxWidth !== undefined) {
    const floors = () =>
      columns.reduce((sum, c, i) => sum + (i === 0 ? (widths[0] ?? 0) : Math.max(4, c.length)), 0) +
      2 * (columns.length - 1);
    while (columns.length > 1 && floors() > maxWidth) {
      columns.pop();
      widths.pop();
    }
    const total = () => widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1);
    const floor = (i: number) => Math.max(4, (columns[i] ?? "").length);
    while (total() > maxWidth) {
      // The widest column that can still give, the first one only when no other can.
      let widest = -1;
      for (let i = 1; i < widths.length; i++) {
        if ((widths[i] ?? 0) > floor(i) && (widest < 0 || (widths[i] ?? 0) > (widths[widest] ?? 0)))
          widest = i;
      }
      if (widest < 0) widest = 0;
      if ((widths[widest] ?? 0) <= floor(widest)) break;
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

/**
 * The width to fit tables in: the terminal's; else `COLUMNS` when set (as `ls` and `git` read
 * it); else none, so a pipe gets whole rows.
 */
export function terminalWidth(env = process.env): number | undefined {
  if (process.stdout.isTTY) return process.stdout.columns;
  const columns = Number(env.COLUMNS);
  return Number.isInteger(columns) && columns > 0 ? columns : undefined;
}
