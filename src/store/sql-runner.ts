/**
 * How a driver runs a statement the stores share: SQL written once, with `$1`, `$2`, ...
 * placeholders in parameter order (PostgreSQL's own; SQLite reads `$1` as a named
 * parameter, bound by number). Writes go through the driver's retry on a busy store.
 */
export interface SqlRunner {
  rows<T>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs a write; returns how many rows it changed. */
  run(sql: string, params?: unknown[]): Promise<number>;
}
