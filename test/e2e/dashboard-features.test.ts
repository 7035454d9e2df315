import type { FastifyInstance } from "fastify";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTracker, type Tracker } from "../../src/index.js";
import { buildApp } from "../../src/server/app.js";
import { pct, usd } from "../../web/src/format.js";
import { captureLogger } from "../support/helpers.js";
import { describeBrowser, launchBrowser, SCREENSHOTS } from "./support/browser.js";
import { SeedClock, type Seeded, seedDashboard } from "./support/seed.js";

const MIN = 60_000;

describeBrowser("dashboard features in Chromium", () => {
  let tracker: Tracker;
  let app: FastifyInstance;
  let base = "";
  let browser: { context: BrowserContext; close: () => Promise<void> };
  let seeded: Seeded;
  const keys = { admin: "", alphaViewer: "", alphaWriter: "" };
  const chain = { root: "", middle: "", leaf: "", sibling: "" };
  let stale = "";
  let busy: string[] = [];

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
    seeded = await seedDashboard(tracker, time);

    // A conversation: root -> middle -> leaf, and a second follow-up of the root.
    const message = (text: string, parentId?: string) =>
      tracker.createRequest({
        userId: "user-chat",
        tenantId: "alpha",
        kind: "chat_message",
        initialMessage: text,
        ...(parentId ? { parentId } : {}),
      });
    chain.root = (await message("Plan a trip to Iceland")).id;
    chain.middle = (await message("Which month is best?", chain.root)).id;
    chain.leaf = (await message("And for the northern lights?", chain.middle)).id;
    chain.sibling = (await message("What should I pack?", chain.root)).id;

    // A run started three minutes ago without a claim: no lease, so no heartbeat.
    time.set(Date.now() - 3 * MIN);
    stale = (await tracker.createRequest({ userId: "user-stuck", tenantId: "alpha" })).id;
    await tracker.startRequest(stale, "worker-gone");
    time.release();

    // 100 running requests of one tenant, for the busy-stream test.
    busy = [];
    for (let i = 0; i < 100; i++) {
      const r = await tracker.createRequest({ userId: `user-${i}`, tenantId: "busy" });
      await tracker.startRequest(r.id, "worker-busy");
      busy.push(r.id);
    }

    await tracker.budgets.create({
      name: "alpha monthly",
      tenantId: "alpha",
      period: "month",
      amountUsd: 1,
    });
    await tracker.flush();

    app = await buildApp({ tracker, logger: false });
    await app.listen({ host: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    browser = await launchBrowser();

    // A real breaker that opened after the server started: its alert is history by the time
    // the page opens (the server keeps alerts from its start).
    const gemini = tracker.breaker(
      "gemini_api",
      async () => {
        throw new Error("upstream 503");
      },
      { volumeThreshold: 1, errorThresholdPercentage: 50 },
    );
    for (let i = 0; i < 2; i++) await gemini.fire().catch(() => undefined);
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await tracker?.close();
  });

  const apiGet = async <T>(path: string, key = keys.admin): Promise<T> => {
    const response = await fetch(`${base}/api/v1${path}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(response.status, path).toBe(200);
    return (await response.json()) as T;
  };

  const signedIn = async (key: string, path = "/"): Promise<Page> => {
    const page = await browser.context.newPage();
    await page.goto(`${base}${path}`);
    await page.fill("#apikey", key);
    await page.click("button[type=submit]");
    await page.waitForSelector("header.top nav");
    return page;
  };

  const rowIds = (page: Page) =>
    page
      .locator("table.requests tbody tr")
      .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-id")));

  it("searches by prompt text and by source on the server, and shows each row's cost split", async () => {
    const page = await signedIn(keys.admin, "/requests");
    await page.waitForSelector("table.requests");
    await page.fill("input[name=prompt]", "VOLCANO");
    await page.press("input[name=prompt]", "Enter");
    await page.waitForURL(/prompt=VOLCANO/);
    const found = await apiGet<{ items: { id: string }[] }>("/requests?prompt=VOLCANO");
    expect(found.items.map((r) => r.id)).toEqual([seeded.retried]);
    await expect.poll(() => rowIds(page)).toEqual([seeded.retried]);

    // The split under the row's cost is GET /costs/by-request's, largest first.
    const split = await apiGet<{ items: { service: string; costUsd: number }[] }>(
      `/costs/by-request?ids=${seeded.retried}`,
    );
    expect(split.items.map((s) => s.service)).toEqual(["veo", "gemini"]);
    await expect
      .poll(() => page.locator(`tr[data-id="${seeded.retried}"] .split`).textContent())
      .toBe(split.items.map((s) => `${s.service} ${usd(s.costUsd)}`).join(" · "));

    // Prompt text and source together; the link carries both.
    await page.goto(`${base}/requests?prompt=topic%20number%201&source=e2e`);
    const both = await apiGet<{ total: number; items: { id: string }[] }>(
      "/requests?prompt=topic%20number%201&source=e2e",
    );
    expect(both.total).toBeGreaterThan(1);
    await expect.poll(() => rowIds(page)).toEqual(both.items.map((r) => r.id));
    await page.goto(`${base}/requests?source=nowhere`);
    await expect.poll(() => page.locator(".empty").textContent()).toContain("No request matches");
    await page.close();
  });

  it("links the parent chain and the follow-ups of a request", async () => {
    const page = await signedIn(keys.admin, `/requests/${chain.leaf}`);
    await page.waitForSelector("#chain .chain");
    const links = page.locator("#chain .chain li[data-id]");
    expect(await links.evaluateAll((li) => li.map((l) => l.getAttribute("data-id")))).toEqual([
      chain.root,
      chain.middle,
    ]);
    expect(await page.locator("#chain .chain .here").textContent()).toBe(chain.leaf);
    await page.screenshot({ path: `${SCREENSHOTS}/request-chain.png`, fullPage: true });

    await page.click(`#chain a[href="/requests/${chain.root}"]`);
    await page.waitForURL(new RegExp(`/requests/${chain.root}$`));
    await page.waitForSelector("#children");
    const children = await apiGet<{ items: { id: string }[] }>(`/requests?parentId=${chain.root}`);
    expect(
      await page
        .locator("#children tr[data-id]")
        .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-id"))),
    ).toEqual(children.items.map((r) => r.id));
    expect(children.items.map((r) => r.id).sort()).toEqual([chain.middle, chain.sibling].sort());
    expect(await page.locator("#chain").textContent()).toContain("starts its conversation");
    await page.close();
  });

  it("shows stale running requests on the queue page", async () => {
    const page = await signedIn(keys.admin, "/queue");
    await page.waitForSelector("#stale");
    const queue = await apiGet<{ staleRunning: { id: string; reason: string }[] }>("/queue/status");
    expect(queue.staleRunning).toContainEqual(
      expect.objectContaining({ id: stale, reason: "no_heartbeat" }),
    );
    await expect
      .poll(() => page.locator(`#stale tr[data-id="${stale}"]`).getAttribute("data-reason"))
      .toBe("no_heartbeat");
    // The seeded runs left running 40 minutes ago are past their 5-minute timeout.
    expect(
      await page
        .locator("#stale tr[data-id]")
        .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-id"))),
    ).toEqual(queue.staleRunning.map((r) => r.id));
    expect(await page.locator(`#stale tr[data-id="${stale}"]`).textContent()).toContain(
      "worker-gone",
    );
    await page.screenshot({ path: `${SCREENSHOTS}/queue-stale.png`, fullPage: true });
    await page.close();
  });

  it("shows a breaker's alert that happened before the page opened", async () => {
    const page = await signedIn(keys.admin, "/breakers");
    await page.waitForSelector("#alerts");
    expect(await page.locator("tbody tr td:nth-child(2)").textContent()).toBe("OPEN");
    expect(
      await page.locator('#alerts li[data-alert="circuit_breaker_open"]').textContent(),
    ).toContain("gemini_api circuit breaker is OPEN");
    await page.screenshot({ path: `${SCREENSHOTS}/breakers-alerts.png`, fullPage: true });
    await page.close();
  });

  it("shows each budget's figures as its status route does, with a burn-down chart", async () => {
    const page = await signedIn(keys.alphaViewer, "/budgets");
    await page.waitForSelector(".budget .stats");
    const { items } = await apiGet<{ items: { id: string }[] }>("/budgets", keys.alphaViewer);
    expect(items).toHaveLength(1);
    const id = items[0]?.id as string;
    const s = await apiGet<{
      limitUsd: number;
      spentUsd: number;
      reservedUsd: number;
      remainingUsd: number;
      percent: number;
    }>(`/budgets/${id}/status`, keys.alphaViewer);
    expect(s.spentUsd).toBeGreaterThan(0);
    const card = page.locator(`[data-budget="${id}"]`);
    const stat = (label: string) => card.locator(`[data-stat="${label}"]`).textContent();
    await expect.poll(() => stat("Spent")).toBe(usd(s.spentUsd));
    expect(await stat("Limit")).toBe(usd(s.limitUsd));
    expect(await stat("Reserved")).toBe(usd(s.reservedUsd));
    expect(await stat("Remaining")).toBe(usd(s.remainingUsd));
    expect(await stat("Used")).toBe(pct(s.percent));
    await card.locator(".chart canvas").first().waitFor();
    // The burn-down draws the remaining spend and the projection to the period's end.
    const burndown = await apiGet<{ projectedUsd: number | null }>(
      `/budgets/${id}/burndown`,
      keys.alphaViewer,
    );
    expect(burndown.projectedUsd).not.toBeNull();
    const legend = await card.locator(".chart").first().textContent();
    expect(legend).toContain("remaining");
    expect(legend).toContain("projected");
    // A viewer key gets no write buttons.
    expect(await page.locator("#new-budget").count()).toBe(0);
    expect(await card.locator("button").count()).toBe(0);
    await page.screenshot({ path: `${SCREENSHOTS}/budgets.png`, fullPage: true });
    await page.close();
  });

  it("creates, edits and deletes a budget with a writer key", async () => {
    const page = await signedIn(keys.alphaWriter, "/budgets");
    await page.click("#new-budget");
    await page.fill("input[name=name]", "chat daily");
    await page.fill("input[name=kind]", "chat_message");
    await page.selectOption("select[name=period]", "day");
    await page.fill("input[name=amountUsd]", "0.5");
    await page.click("button:text-is('Create')");
    await page.waitForSelector(".budget h2:text-is('chat daily')");
    const created = (
      await apiGet<{ items: { id: string; name: string; scope: object; amountMicros: number }[] }>(
        "/budgets",
        keys.alphaWriter,
      )
    ).items.find((b) => b.name === "chat daily");
    expect(created).toMatchObject({
      scope: { tenantId: "alpha", kind: "chat_message" },
      amountMicros: 500_000,
    });
    const card = page.locator(`[data-budget="${created?.id}"]`);

    // A bad amount: the API's message, naming the field; nothing saved.
    await card.locator("button:text-is('Edit')").click();
    await card.locator("input[name=amountUsd]").fill("-3");
    // Past the browser's own check (min=0), so the API's answer is what shows.
    await card.locator("form").evaluate((f) => f.setAttribute("novalidate", ""));
    await card.locator("button:text-is('Save')").click();
    await expect.poll(() => card.locator("[role=alert]").textContent()).toContain("amountUsd");
    await card.locator("input[name=amountUsd]").fill("2");
    await card.locator("button:text-is('Save')").click();
    await expect.poll(() => card.locator('[data-stat="Limit"]').textContent()).toBe(usd(2));

    await card.locator("button:text-is('Delete')").click();
    await card.locator(`#confirm-delete-${created?.id}`).click();
    await expect.poll(() => page.locator(`[data-budget="${created?.id}"]`).count()).toBe(0);
    const after = await apiGet<{ items: { id: string }[] }>("/budgets", keys.alphaWriter);
    expect(after.items.map((b) => b.id)).not.toContain(created?.id);
    await page.close();
  });

  it("compares two runs side by side", async () => {
    const other = seeded.failed;
    const page = await signedIn(keys.admin, `/requests/${seeded.retried}/compare/${other}`);
    await page.waitForSelector("table.compare");
    const [a, b] = await Promise.all([
      apiGet<{ status: string; costUsd: number }>(`/requests/${seeded.retried}`),
      apiGet<{ status: string; costUsd: number }>(`/requests/${other}`),
    ]);
    const cells = (row: string) => page.locator(`tr[data-row="${row}"] td`).allTextContents();
    expect(await cells("Status")).toEqual([a.status, b.status]);
    expect(await cells("cost-total")).toEqual([usd(a.costUsd), usd(b.costUsd)]);
    expect(await cells("cost-veo")).toEqual([usd(0.35), usd(0)]);
    await page.screenshot({ path: `${SCREENSHOTS}/compare.png`, fullPage: true });
    await page.close();
  });

  it("offers Replay to write keys: it creates the replay and opens the compare view", async () => {
    const me = await apiGet<{ features: string[] }>("/whoami", keys.alphaWriter);
    expect(me.features).toEqual(expect.arrayContaining(["replay", "compare"]));
    const page = await signedIn(keys.alphaWriter, `/requests/${seeded.retried}`);
    await page.waitForSelector(".fields");
    await page.click("#replay");
    await page.waitForURL(/\/compare\//);
    await page.waitForSelector("table.compare");
    const replayId = decodeURIComponent(page.url().split("/compare/")[1] ?? "");
    const replay = await apiGet<{ replayOf: string | null }>(
      `/requests/${encodeURIComponent(replayId)}`,
      keys.alphaWriter,
    );
    expect(replay.replayOf).toBe(seeded.retried);
    const original = await apiGet<{ replays: { id: string }[] }>(
      `/requests/${seeded.retried}`,
      keys.alphaWriter,
    );
    expect(original.replays.map((r) => r.id)).toContain(replayId);
    const viewer = await signedIn(keys.alphaViewer, `/requests/${seeded.retried}`);
    await viewer.waitForSelector(".fields");
    expect(await viewer.locator("#replay").count()).toBe(0);
    await viewer.close();
    await page.close();
  });

  it("starts a bulk replay by filter, shows it stopped by a spent budget, and resumes it to the end", async () => {
    const writer = (await tracker.keys.create({ role: "writer", tenantId: "rp" })).key;
    const viewer = (await tracker.keys.create({ role: "viewer", tenantId: "rp" })).key;
    const failed: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await tracker.createRequest({ userId: `u${i}`, tenantId: "rp", kind: "bulk_demo" });
      await tracker.startRequest(r.id, "w");
      await tracker.failRequest(r.id, { message: "upstream 500" });
      failed.push(r.id);
    }
    // Spent before the replay starts: each replay is a new request, refused by the budget.
    const budget = await tracker.budgets.create({
      tenantId: "rp",
      period: "day",
      amountUsd: 0.01,
      mode: "enforce",
    });
    await tracker.recordCost(failed[0] as string, { service: "veo", amountUsd: 1 });
    await tracker.flush();

    const page = await signedIn(writer, "/replays");
    await page.waitForSelector(".empty");
    await page.click("#new-replay");
    await page.fill("#bulk-replay-form input[name=kind]", "bulk_demo");
    await page.fill("#bulk-replay-form input[name=ratePerSecond]", "1000");
    // A tenant key picks only its own tenant: the form has no tenant field.
    expect(await page.locator("#bulk-replay-form input[name=tenantId]").count()).toBe(0);
    await page.click("#bulk-replay-form button[type=submit]");
    const row = page.locator("tr[data-job]");
    await row.waitFor();
    const jobId = (await row.getAttribute("data-job")) as string;
    await expect.poll(() => row.locator("[data-status]").textContent()).toBe("stopped");
    expect(await row.textContent()).toMatch(/budget/i);
    const stopped = await apiGet<{ total: number; done: number; filter: unknown }>(
      `/replays/${jobId}`,
      writer,
    );
    expect(stopped).toMatchObject({
      total: 3,
      done: 0,
      filter: { status: ["failed"], kind: "bulk_demo", tenantId: "rp" },
    });
    expect(await row.locator("[data-progress]").textContent()).toBe("0 / 3 (0%)");

    await tracker.budgets.delete(budget.id);
    await row.locator(`[data-resume="${jobId}"]`).click();
    await expect.poll(() => row.locator("[data-status]").textContent()).toBe("completed");
    expect(await row.locator("[data-progress]").textContent()).toBe("3 / 3 (100%)");
    for (const id of failed) {
      const { items } = await apiGet<{ items: { id: string }[] }>(
        `/requests/${id}/replays`,
        writer,
      );
      expect(items, id).toHaveLength(1);
      const replay = await apiGet<{ replayOf: string | null }>(
        `/requests/${encodeURIComponent(items[0]?.id as string)}`,
        writer,
      );
      expect(replay.replayOf).toBe(id);
    }
    await page.screenshot({ path: `${SCREENSHOTS}/replays.png`, fullPage: true });

    // A viewer sees the job and its progress, and no button that writes.
    const view = await signedIn(viewer, "/replays");
    await view.locator(`tr[data-job="${jobId}"]`).waitFor();
    expect(await view.locator("#new-replay").count()).toBe(0);
    expect(await view.locator("[data-resume]").count()).toBe(0);
    // Another tenant's key sees none of it.
    const other = await signedIn(keys.alphaWriter, "/replays");
    await other.waitForSelector(".empty");
    expect(await other.locator(`tr[data-job="${jobId}"]`).count()).toBe(0);
    await Promise.all([page.close(), view.close(), other.close()]);
  });

  it("keeps 100 live rows responsive at 200 changes/s: no re-render per event", async () => {
    const page = await signedIn(keys.admin, "/");
    const streamOpen = page.waitForResponse((r) => new URL(r.url()).pathname === "/api/v1/stream");
    await page.goto(`${base}/requests?tenantId=busy&limit=100`);
    await expect.poll(() => page.locator("table.requests tbody tr").count()).toBe(100);
    expect((await streamOpen).status()).toBe(200);
    const counts = () =>
      page.evaluate(
        () =>
          (globalThis as unknown as { __reqtrackRenders: { requestsPage: number } })
            .__reqtrackRenders.requestsPage,
      );
    const before = await counts();

    // 400 changes in 2 s: 10 every 50 ms. Five of them add a cost (the row shows it), the
    // rest are events (nothing a row shows changes); one row completes at the end.
    const costed = busy.slice(10, 15);
    const marker = busy[50] as string;
    let changes = 0;
    for (let tick = 0; tick < 40; tick++) {
      const batch: Promise<unknown>[] = [];
      for (let i = 0; i < 10; i++) {
        const id = busy[(tick * 10 + i) % 100] as string;
        if (tick === 20 && i < costed.length) {
          batch.push(
            tracker.recordCost(costed[i] as string, { service: "openai", amountUsd: 0.25 }),
          );
        } else {
          batch.push(tracker.logEvent(id, { type: "progress", message: `step ${tick}` }));
        }
        changes++;
      }
      await Promise.all(batch);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await tracker.completeRequest(marker, { ok: true });
    changes++;

    await expect
      .poll(() => page.locator(`tr[data-id="${marker}"] .badge`).textContent(), { timeout: 5000 })
      .toBe("completed");
    for (const id of costed) {
      await expect
        .poll(() => page.locator(`tr[data-id="${id}"] td.cost`).textContent(), { timeout: 5000 })
        .toContain(usd(0.25));
    }
    const pageRenders = (await counts()) - before;
    console.log(`busy stream: ${changes} changes, ${pageRenders} renders of the list`);
    // Per-event rendering would be `changes` renders; batching per frame and skipping
    // messages that change nothing shown leaves a handful.
    expect(pageRenders).toBeLessThan(changes / 20);
    const rendered = await page
      .locator("table.requests tbody tr")
      .evaluateAll((rows) =>
        rows.map((r) => [r.getAttribute("data-id"), Number(r.getAttribute("data-renders"))]),
      );
    const again = rendered.filter(([, n]) => (n as number) > 1).map(([id]) => id);
    // Only rows whose shown data changed rendered again: the costed ones and the marker.
    expect(again.sort()).toEqual([...costed, marker].sort());
    await page.close();
  });
});
