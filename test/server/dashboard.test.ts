import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify from "fastify";
import { afterAll, describe, expect, it } from "vitest";
import { dashboardPlugin, DASHBOARD_PAGES } from "../../src/server/dashboard.js";

describe("dashboard plugin", () => {
  const dir = mkdtempSync(join(tmpdir(), "reqtrack-web-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("answers every page URL with index.html and serves hashed assets for a year", async () => {
    mkdirSync(join(dir, "built", "assets"), { recursive: true });
    writeFileSync(join(dir, "built", "index.html"), "<!doctype html><p>the app</p>");
    writeFileSync(join(dir, "built", "assets", "index-abc123.js"), "console.log(1)");
    const app = Fastify();
    await app.register(dashboardPlugin, { dir: `${join(dir, "built")}/` });
    for (const url of ["/", "/requests?status=failed", "/requests/req_1", "/costs", "/queue"]) {
      const page = await app.inject({ url });
      expect(page.statusCode, url).toBe(200);
      expect(page.headers["content-type"]).toMatch(/^text\/html/);
      expect(page.headers["cache-control"]).toBe("no-cache");
      expect(page.body).toContain("the app");
    }
    const asset = await app.inject({ url: "/assets/index-abc123.js" });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers["cache-control"]).toContain("immutable");
    expect((await app.inject({ url: "/assets/missing.js" })).statusCode).toBe(404);
    expect((await app.inject({ url: "/assets/../index.html" })).statusCode).not.toBe(200);
    expect(DASHBOARD_PAGES).toContain("/breakers");
    await app.close();
  });

  it("says how to build it when the build is missing, instead of a blank page", async () => {
    const app = Fastify();
    await app.register(dashboardPlugin, { dir: `${join(dir, "nothing")}/` });
    const page = await app.inject({ url: "/" });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain("npm run build");
    await app.close();
  });
});
