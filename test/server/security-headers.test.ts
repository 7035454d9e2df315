import { readFileSync } from "node:fs";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTracker, type Tracker } from "../../src/index.js";
import { buildApp } from "../support/app.js";
import { DASHBOARD_DIR } from "../../src/server/dashboard.js";
import { captureLogger } from "../support/helpers.js";

const ORIGIN = "https://app.example.com";

describe("security headers and CORS", () => {
  let tracker: Tracker;
  let app: FastifyInstance;
  let withCors: FastifyInstance;
  let adminKey: string;

  beforeAll(async () => {
    tracker = await createTracker({ storage: ":memory:", logger: captureLogger("error").logger });
    adminKey = (await tracker.keys.create({ role: "admin" })).key;
    app = await buildApp({ tracker, logger: false });
    withCors = await buildApp({ tracker, logger: false, corsOrigins: [ORIGIN] });
  });
  afterAll(async () => {
    await app.close();
    await withCors.close();
    await tracker.close();
  });

  const auth = () => ({ authorization: `Bearer ${adminKey}` });

  it("the dashboard's policy allows only same-origin scripts, and the built page has no inline script", async () => {
    const page = await app.inject({ method: "GET", url: "/requests" });
    expect(page.statusCode).toBe(200);
    const csp = String(page.headers["content-security-policy"]);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    expect(page.headers["x-content-type-options"]).toBe("nosniff");
    expect(page.headers["referrer-policy"]).toBe("same-origin");
    expect(page.headers["x-frame-options"]).toBe("DENY");
    // Every <script> of the built app loads from a src under /assets/.
    const html = readFileSync(`${DASHBOARD_DIR}index.html`, "utf8");
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toMatch(/src="\/assets\//);
      expect(body?.trim()).toBe("");
    }
  });

  it("API answers, errors included, carry the headers and a policy that loads nothing", async () => {
    for (const response of [
      await app.inject({ method: "GET", url: "/api/v1/requests", headers: auth() }),
      await app.inject({ method: "GET", url: "/api/v1/requests" }),
      await app.inject({ method: "GET", url: "/api/v1/nope", headers: auth() }),
    ]) {
      expect(response.headers["x-content-type-options"]).toBe("nosniff");
      expect(response.headers["x-frame-options"]).toBe("DENY");
      expect(response.headers["content-security-policy"]).toBe(
        "default-src 'none'; frame-ancestors 'none'",
      );
    }
  });

  it("CORS is off by default: no Access-Control header, preflight not answered as allowed", async () => {
    const get = await app.inject({
      method: "GET",
      url: "/api/v1/requests",
      headers: { ...auth(), origin: ORIGIN },
    });
    expect(get.headers["access-control-allow-origin"]).toBeUndefined();
    const preflight = await app.inject({
      method: "OPTIONS",
      url: "/api/v1/requests",
      headers: { origin: ORIGIN, "access-control-request-method": "POST" },
    });
    expect(preflight.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("with corsOrigins, listed origins are allowed and others are not", async () => {
    const allowed = await withCors.inject({
      method: "OPTIONS",
      url: "/api/v1/requests",
      headers: {
        origin: ORIGIN,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type",
      },
    });
    expect(allowed.statusCode).toBe(204);
    expect(allowed.headers["access-control-allow-origin"]).toBe(ORIGIN);
    expect(String(allowed.headers["access-control-allow-headers"])).toContain("authorization");
    const get = await withCors.inject({
      method: "GET",
      url: "/api/v1/requests",
      headers: { ...auth(), origin: ORIGIN },
    });
    expect(get.statusCode).toBe(200);
    expect(get.headers["access-control-allow-origin"]).toBe(ORIGIN);
    const other = await withCors.inject({
      method: "GET",
      url: "/api/v1/requests",
      headers: { ...auth(), origin: "https://evil.example" },
    });
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("corsOrigins must be origins: anything else is a coded error naming the option", async () => {
    await expect(
      buildApp({ tracker, logger: false, corsOrigins: ["not an origin"] }),
    ).rejects.toMatchObject({ code: "RT_ERR_VALIDATION" });
  });
});
