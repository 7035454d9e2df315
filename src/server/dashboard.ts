import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyPluginAsync } from "fastify";
import { DASHBOARD_CSP } from "./security-headers.js";

/**
 * Where `vite build` writes the web app. The same relative path works from `src/server`
 * (tests, tsx) and from `dist/server` (the package), since both sit two levels below the root.
 */
export const DASHBOARD_DIR = fileURLToPath(new URL("../../dist/web/", import.meta.url));

/** The dashboard's pages: each has its own URL, all answered with the same index.html. */
export const DASHBOARD_PAGES = [
  "/",
  "/requests",
  "/requests/:id",
  "/requests/:id/compare/:otherId",
  "/costs",
  "/stages",
  "/breakers",
  "/queue",
  "/budgets",
  "/replays",
] as const;

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>reqtrack</title>
<p>The dashboard is not built. Run <code>npm run build</code>, then reload.</p>`;

/**
 * Serves the built dashboard: hashed assets under /assets/ (cached for a year, since their
 * names change with their content) and index.html for every page URL (never cached, so a
 * new build shows at once). The pages call the public API like any client: no private door.
 */
export const dashboardPlugin: FastifyPluginAsync<{ dir?: string }> = async (app, options) => {
  const dir = options.dir ?? DASHBOARD_DIR;
  const indexFile = `${dir}index.html`;
  const built = existsSync(indexFile);
  const html = built ? readFileSync(indexFile, "utf8") : NOT_BUILT;
  if (built) {
    await app.register(fastifyStatic, {
      root: `${dir}assets`,
      prefix: "/assets/",
      immutable: true,
      maxAge: "365d",
      index: false,
    });
  }
  for (const url of DASHBOARD_PAGES) {
    app.get(url, { schema: { hide: true } }, async (_request, reply) =>
      reply
        .type("text/html; charset=utf-8")
        .header("cache-control", "no-cache")
        .header("content-security-policy", DASHBOARD_CSP)
        .send(html),
    );
  }
};
