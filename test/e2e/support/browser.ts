import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";
import { describe } from "vitest";
import { DASHBOARD_DIR } from "../../../src/server/dashboard.js";

/** Debian's Chromium (package `chromium`); the tests never download a browser. */
export const CHROMIUM = process.env.REQTRACK_CHROMIUM ?? "/usr/bin/chromium";

/** Where screenshots go: under the test output, not in the source tree. */
export const SCREENSHOTS = join(process.cwd(), "test-results", "screenshots");

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

/** A headless Chromium with a fresh profile; `close()` removes the profile. */
export async function launchBrowser(
  options: { colorScheme?: "light" | "dark"; width?: number; height?: number } = {},
): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), "reqtrack-chromium-"));
  mkdirSync(SCREENSHOTS, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
      "--disable-sync",
    ],
    viewport: { width: options.width ?? 1360, height: options.height ?? 900 },
    colorScheme: options.colorScheme ?? "light",
    timezoneId: "Europe/Berlin",
    acceptDownloads: true,
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
