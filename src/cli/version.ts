import { readFileSync } from "node:fs";

/** The package's version, read from its package.json (two folders up from dist/cli or src/cli). */
export function version(): string {
  const file = new URL("../../package.json", import.meta.url);
  return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
}
