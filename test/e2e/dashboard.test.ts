import type { FastifyInstance } from "fastify";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTracker, type Tracker } from "../../src/index.js";
import { buildApp } from "../../src/server/app.js";
import { duration, int, pct, usd } from "../../web/src/format.js";
import { captureLogger } from "../support/helpers.js";
import { describeBrowser, launchBrowser, SCREENSHOTS } from "./support/browser.js";
import { SeedClock, type Seeded, seedDashboard } from "./support/seed.js";

describeBrowser("dashboard in Chromium", () => {
  let tracker: Tracker;
  let app: FastifyInstance;
  let base = "";
  let browser: { context: BrowserContext; close: () => Promise<void> };
  let seeded: Seeded;
  const keys = { admin: "", alphaViewer: "", alphaWriter: "", betaViewer: "" };

  beforeAll(async () => {
    const time = new SeedClock();
    tracker = await createTracker({
      storage: ":memory:",
      clock: time.clock,
      logger: captureLogger("error").logger,
      watchdogIntervalMs: 0,
    });
    keys.admin = (await tracker.keys.create({ role: "admin" })).key;
    keys.alphaViewer = (await tracker.keys.create({ role: "viewer", tenantId: "alpha" })).key;
    keys.alphaWriter = (await tracker.keys.create({ role: "writer", tenantId: "alpha" })).key;
    keys.betaViewer = (await tracker.keys.create({ role: "viewer", tenantId: "beta" })).key;
    seeded = await seedDashboard(tracker, time);
    app = await buildApp({ tracker, logger: false });
    await app.listen({ host: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await tracker?.close();
  });

  /** The API as an admin sees it, to compare the pages with. */
  const apiGet = async <T>(path: string, key = keys.admin): Promise<T> => {
    const response = await fetch(`${base}/api/v1${path}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(response.status, path).toBe(200);
    return (await response.json()) as T;
  };

  /** A new tab (its own sessionStorage), signed in with `key` at `path`. */
  const signedIn = async (key: string, path = "/"): Promise<Page> => {
    const page = await browser.context.newPage();
    await page.goto(`${base}${path}`);
    await page.fill("#apikey", key);
    await page.click("button[type=submit]");
    await page.waitForSelector("header.top nav");
    return page;
  };

  const stat = (page: Page, label: string) =>
    page.locator(`[data-stat="${label}"]`).first().textContent();

  it("asks for a key, and a wrong key gets a clear message instead of a blank page", async () => {
    const page = await browser.context.newPage();
    await page.goto(`${base}/`);
    await expect(page.locator("label[for=apikey]").textContent()).resolves.toBe("API key");
    await page.fill("#apikey", "rt_wrong-key-000000000000000000000000");
    await page.click("button[type=submit]");
    const message = await page.locator("#signin-error").textContent();
    expect(message).toContain("That key was refused");
    expect(message).toContain("unknown or revoked");
    expect(await page.locator("header.top").count()).toBe(0);
    await page.screenshot({ path: `${SCREENSHOTS}/sign-in-wrong-key.png` });
    await page.close();
  });

  it("shows the overview's figures exactly as GET /stats/overview answers them", async () => {
    const page = await signedIn(keys.admin, "/?window=24h");
    await page.waitForSelector("#overview-stats");
    const o = await apiGet<{
      total: number;
      countsByStatus: Record<string, number>;
      failureRatePct: number;
      costUsd: number;
      latencyMs: { p50: number; p95: number; p99: number };
      queueMs: { p50: number; p95: number };
    }>("/stats/overview?window=24h");
    expect(o.total).toBe(25);
    expect(await stat(page, "Requests")).toBe(int(o.total));
    for (const [status, n] of Object.entries(o.countsByStatus)) {
      expect(await stat(page, status), status).toBe(int(n));
    }
    expect(await stat(page, "Failure rate")).toBe(pct(o.failureRatePct));
    expect(await stat(page, "Cost")).toBe(usd(o.costUsd));
    expect(await stat(page, "Latency p50")).toBe(duration(o.latencyMs.p50));
    expect(await stat(page, "Latency p99")).toBe(duration(o.latencyMs.p99));
    expect(await stat(page, "Queue p95")).toBe(duration(o.queueMs.p95));
    const queue = await apiGet<{ running: number }>("/queue/status");
    expect(await stat(page, "Running now")).toBe(int(queue.running));
    expect(await page.locator(".chart canvas").count()).toBeGreaterThanOrEqual(3);
    await page.screenshot({ path: `${SCREENSHOTS}/overview.png`, fullPage: true });

    // The window lives in the query string: 1h gives the API's 1h figures.
    await page.click("button:text-is('1h')");
    await page.waitForURL(/window=1h/);
    const hour = await apiGet<{ total: number }>("/stats/overview?window=1h");
    await expect.poll(() => stat(page, "Requests")).toBe(int(hour.total));
    await page.close();
  });

  it("filters server-side from the query string, and finds a request by id", async () => {
    const page = await signedIn(keys.admin, "/requests");
    await page.waitForSelector("table.requests");
    await page.selectOption("select[name=status]", "failed");
    await page.waitForURL(/status=failed/);
    const failed = await apiGet<{ total: number; items: { id: string }[] }>(
      "/requests?status=failed",
    );
    await expect.poll(() => page.locator("table.requests tbody tr").count()).toBe(failed.total);
    await expect
      .poll(() => page.locator("#requests-total").textContent())
      .toBe(`${failed.total} requests`);
    expect(await page.locator("table.requests .badge").allTextContents()).toEqual(
      failed.items.map(() => "failed"),
    );

    // A shared link with two filters shows the same rows as the API.
    await page.goto(`${base}/requests?userId=user-unlucky&tenantId=alpha`);
    const unlucky = await apiGet<{ items: { id: string }[] }>(
      "/requests?userId=user-unlucky&tenantId=alpha",
    );
    expect(unlucky.items.map((r) => r.id)).toEqual([seeded.failed]);
    await expect
      .poll(() => page.locator("table.requests tbody tr").getAttribute("data-id"))
      .toBe(seeded.failed);

    await page.goto(`${base}/requests`);
    await page.fill("input[name=q]", seeded.retried);
    await page.press("input[name=q]", "Enter");
    await expect.poll(() => page.locator("table.requests tbody tr").count()).toBe(1);
    expect(await page.locator("table.requests tbody tr").getAttribute("data-id")).toBe(
      seeded.retried,
    );
    await page.fill("input[name=q]", "req_does-not-exist");
    await page.press("input[name=q]", "Enter");
    await expect.poll(() => page.locator(".empty").textContent()).toContain("No request with id");
    await page.close();
  });

  it("shows a request created through the API within 2 s, without a reload", async () => {
    const page = await signedIn(keys.admin, "/");
    // The stream must be open before the change happens, or the page could not hear it.
    const streamOpen = page.waitForResponse((r) => new URL(r.url()).pathname === "/api/v1/stream");
    await page.goto(`${base}/requests?tenantId=alpha`);
    await page.waitForSelector("table.requests");
    expect((await streamOpen).status()).toBe(200);
    const before = await page.locator("table.requests tbody tr").count();
    // Mark the document: a reload would lose it.
    await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42));
    const created = await tracker.createRequest({
      userId: "user-live",
      tenantId: "alpha",
      kind: "chat_message",
    });
    await page.waitForSelector("#new-banner", { timeout: 2000 });
    expect(await page.locator("#new-banner").textContent()).toContain("1 new request");
    // The table did not jump: the new row waits behind the banner.
    expect(await page.locator("table.requests tbody tr").count()).toBe(before);
    await page.click("#new-banner");
    await page.waitForSelector(`tr[data-id="${created.id}"]`, { timeout: 2000 });

    // A visible row updates in place when its request changes.
    await tracker.startRequest(created.id, "worker-live");
    await expect
      .poll(() => page.locator(`tr[data-id="${created.id}"] .badge`).textContent(), {
        timeout: 2000,
      })
      .toBe("running");
    expect(await page.evaluate(() => (globalThis as unknown as { marker: number }).marker)).toBe(
      42,
    );
    await page.screenshot({ path: `${SCREENSHOTS}/requests.png`, fullPage: true });
    await tracker.completeRequest(created.id, null);
    await page.close();
  });

  it("shows a retried stage as two attempts, and the request's costs", async () => {
    const page = await signedIn(keys.admin, `/requests/${seeded.retried}`);
    await page.waitForSelector(".waterfall");
    const detail = await apiGet<{ costUsd: number; costs: { service: string }[] }>(
      `/requests/${seeded.retried}`,
    );
    const render = page.locator('.wf-row[data-stage="render"]');
    expect(await render.count()).toBe(2);
    expect(await render.nth(0).getAttribute("data-attempt")).toBe("1");
    expect(await render.nth(0).locator(".wf-bar").getAttribute("class")).toContain("st-failed");
    expect(await render.nth(1).getAttribute("data-attempt")).toBe("2");
    expect(await render.nth(1).locator(".wf-bar").getAttribute("class")).toContain("st-completed");
    expect(await page.locator("#cost-total").textContent()).toBe(usd(detail.costUsd));
    expect(await page.locator("#cost-split tbody tr td:first-child").allTextContents()).toEqual([
      "gemini",
      "veo",
      "Total",
    ]);
    expect(await page.locator("#counters").textContent()).toContain("frames_rendered240");
    expect(await page.locator(".events").textContent()).toContain("GPU lost");
    await page.screenshot({ path: `${SCREENSHOTS}/request-detail.png`, fullPage: true });
    await page.close();
  });

  it("keeps a tenant key to its tenant, in lists and by URL", async () => {
    const page = await signedIn(keys.alphaViewer, "/requests");
    await page.waitForSelector("table.requests");
    const tenants = await page.locator("table.requests tbody tr td:nth-child(3)").allTextContents();
    expect(tenants.length).toBeGreaterThan(0);
    expect(new Set(tenants)).toEqual(new Set(["alpha"]));
    // Asking for the other tenant in the URL changes nothing.
    await page.goto(`${base}/requests?tenantId=beta`);
    await page.waitForSelector("table.requests");
    expect(
      new Set(await page.locator("table.requests tbody tr td:nth-child(3)").allTextContents()),
    ).toEqual(new Set(["alpha"]));
    // Another tenant's request by its URL: not found, not shown.
    await page.goto(`${base}/requests/${seeded.beta}`);
    const error = await page.locator("[role=alert]").textContent();
    expect(error).toContain("RT_ERR_NOT_FOUND");
    expect(await page.locator(".waterfall").count()).toBe(0);
    await page.close();
  });

  it("shows write buttons to a writer key only", async () => {
    const viewer = await signedIn(keys.alphaViewer, `/requests/${seeded.pendingAlpha}`);
    await viewer.waitForSelector(".fields");
    expect(await viewer.locator("button:text-is('Cancel')").count()).toBe(0);
    await viewer.close();
    const writer = await signedIn(keys.alphaWriter, `/requests/${seeded.pendingAlpha}`);
    await writer.waitForSelector(".fields");
    expect(await writer.locator("button:text-is('Cancel')").count()).toBe(1);
    await writer.close();
  });

  it("exports the cost report as CSV matching GET /costs/report", async () => {
    const page = await signedIn(keys.admin, "/costs?window=24h");
    await page.waitForSelector("#csv-export");
    const href = (await page.locator("#csv-export").getAttribute("href")) ?? "";
    const csv = decodeURIComponent(href.slice(href.indexOf(",") + 1));
    const rows = csv
      .trim()
      .split("\n")
      .map((line) => line.split(","));
    const report = await apiGet<{
      totalCostUsd: number;
      totalRequests: number;
      byService: { service: string; records: number; costUsd: number }[];
      byTenant: { tenantId: string; costUsd: number }[];
    }>(
      await apiGet<{ from: string; to: string }>("/stats/overview?window=24h").then(
        (w) => `/costs/report?from=${w.from}&to=${w.to}`,
      ),
    );
    expect(rows[0]).toEqual(["section", "key", "requests", "records", "costUsd"]);
    expect(rows[1]).toEqual([
      "total",
      "all",
      String(report.totalRequests),
      "",
      String(report.totalCostUsd),
    ]);
    expect(rows.filter((r) => r[0] === "service")).toEqual(
      report.byService.map((s) => ["service", s.service, "", String(s.records), String(s.costUsd)]),
    );
    expect(rows.filter((r) => r[0] === "tenant").map((r) => [r[1], Number(r[4])])).toEqual(
      report.byTenant.map((t) => [t.tenantId, t.costUsd]),
    );
    const download = page.waitForEvent("download");
    await page.click("#csv-export");
    expect((await download).suggestedFilename()).toBe("reqtrack-costs-24h.csv");
    await page.screenshot({ path: `${SCREENSHOTS}/costs.png`, fullPage: true });
    await page.close();
  });

  it("renders the stages, breakers and queue pages", async () => {
    const page = await signedIn(keys.admin, "/stages?window=24h");
    await page.waitForSelector("table");
    const stages = await apiGet<{ name: string }[]>("/stats/stages?window=24h");
    expect(await page.locator("tbody tr td:first-child").allTextContents()).toEqual(
      stages.map((s) => s.name),
    );
    await page.screenshot({ path: `${SCREENSHOTS}/stages.png`, fullPage: true });
    await page.click("nav >> text=Breakers");
    await page.waitForSelector(".empty");
    expect(await page.locator(".empty").textContent()).toContain("tracker.breaker");
    await page.screenshot({ path: `${SCREENSHOTS}/breakers.png`, fullPage: true });
    await page.click("nav >> text=Queue");
    await page.waitForURL(/\/queue$/);
    const queue = await apiGet<{ pending: number; oldestPending: { id: string } }>("/queue/status");
    await expect.poll(() => stat(page, "Pending")).toBe(int(queue.pending));
    expect(await page.locator(`a[href="/requests/${queue.oldestPending.id}"]`).count()).toBe(1);
    await page.screenshot({ path: `${SCREENSHOTS}/queue.png`, fullPage: true });
    await page.close();
  });
});

describeBrowser("dashboard on an open (keyless) loopback server", () => {
  it("opens without asking for a key, and shows what to do on an empty store", async () => {
    const tracker = await createTracker({
      storage: ":memory:",
      logger: captureLogger("error").logger,
      watchdogIntervalMs: 0,
    });
    const app = await buildApp({ tracker, logger: false });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const browser = await launchBrowser({ colorScheme: "dark" });
    try {
      const page = await browser.context.newPage();
      await page.goto(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/`);
      await page.waitForSelector(".empty");
      expect(await page.locator("#apikey").count()).toBe(0);
      expect(await page.locator(".who").textContent()).toContain("open (loopback)");
      expect(await page.locator(".empty").first().textContent()).toContain("npx reqtrack demo");
      await page.screenshot({ path: `${SCREENSHOTS}/overview-empty-dark.png`, fullPage: true });
    } finally {
      await browser.close();
      await app.close();
      await tracker.close();
    }
  });
});
