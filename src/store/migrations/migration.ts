/** A versioned schema change. Versions are applied in order, each exactly once. */
export interface Migration {
  version: number;
  name: string;
  /** One or more SQL statements. */
  up: string;
}
