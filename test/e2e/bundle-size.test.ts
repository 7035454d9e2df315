import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { DASHBOARD_DIR } from "../../src/server/dashboard.js";

/** The issue's budget for the overview's first load. */
const BUDGET_BYTES = 150 * 1024;

/**
 * The JavaScript the browser loads before the overview can draw: the entry script of
 * index.html and every module it preloads or imports statically, gzipped.
 */
function firstLoadScripts(html: string): string[] {
  const files = new Set<string>();
  for (const m of html.matchAll(/<script[^>]+src="\/([^"]+\.js)"/g)) files.add(m[1] as string);
  for (const m of html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="\/([^"]+\.js)"/g))
    files.add(m[1] as string);
  // Static imports of those chunks load at once too; dynamic import() ones do not.
  const queue = [...files];
  while (queue.length > 0) {
    const source = readFileSync(join(DASHBOARD_DIR, queue.pop() as string), "utf8");
    for (const m of source.matchAll(
      /(?:^|[;\s])import\s*(?:[^"'()]*?from\s*)?["']\.\/([^"']+\.js)["']/g,
    )) {
      const file = `assets/${m[1] as string}`;
      if (!files.has(file)) {
        files.add(file);
        queue.push(file);
      }
    }
  }
  return [...files];
}

describe("dashboard bundle", () => {
  const built = existsSync(join(DASHBOARD_DIR, "index.html"));
  // `npm test` builds first; a bare vitest run on an unbuilt tree has nothing to measure.
  it.skipIf(!built && process.env.REQTRACK_REQUIRE_BROWSER !== "1")(
    `loads the overview with at most ${BUDGET_BYTES / 1024} kB of JS gzipped`,
    () => {
      const html = readFileSync(join(DASHBOARD_DIR, "index.html"), "utf8");
      const scripts = firstLoadScripts(html);
      expect(scripts.length).toBeGreaterThan(0);
      const gzipped = scripts.reduce(
        (sum, file) => sum + gzipSync(readFileSync(join(DASHBOARD_DIR, file))).length,
        0,
      );
      console.log(`dashboard first-load JS: ${scripts.join(", ")} = ${gzipped} bytes gzipped`);
      expect(gzipped).toBeLessThanOrEqual(BUDGET_BYTES);
    },
  );
});
