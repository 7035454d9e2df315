import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

/** Debian's Chromium (package `chromium`); the tests and benchmarks never download a browser. */
export const CHROMIUM = process.env.REQTRACK_CHROMIUM ?? "/usr/bin/chromium";

/** Where screenshots go: under the test output, not in the source tree. */
export const SCREENSHOTS = join(process.cwd(), "test-results", "screenshots");

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
