import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe } from "vitest";
import { DASHBOARD_DIR } from "../../../src/server/dashboard.js";
import { CHROMIUM } from "./chromium.js";

export { CHROMIUM, launchBrowser, SCREENSHOTS } from "./chromium.js";

/** Why the browser tests cannot run here, or null when they can. */
function missing(): string | null {
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
  if (!existsSync(join(DASHBOARD_DIR, "index.html")))
    return `the dashboard is not built in ${DASHBOARD_DIR} (npm run build)`;
  return null;
}

/**
 * A suite that needs Chromium and the built dashboard. Without them it skips, saying why;
 * with REQTRACK_REQUIRE_BROWSER=1 (CI) it fails instead, so CI never passes by skipping.
 */
export function describeBrowser(title: string, suite: () => void): void {
  const reason = missing();
  if (reason === null) {
    describe(title, suite);
  } else if (process.env.REQTRACK_REQUIRE_BROWSER === "1") {
    describe(title, () => {
      throw new Error(`REQTRACK_REQUIRE_BROWSER=1 but ${reason}`);
    });
  } else {
    console.warn(`Browser tests skipped: ${reason}`);
    describe.skip(`${title} (skipped: ${reason})`, suite);
  }
}
