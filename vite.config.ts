import { defineConfig } from "vite";

/**
 * The dashboard (web/) builds into dist/web, which src/server/dashboard.ts serves. Preact's
 * JSX runtime replaces React's; assets get content hashes, so they are cached forever.
 */
export default defineConfig({
  root: "web",
  base: "/",
  build: {
    outDir: "../dist/web",
    emptyOutDir: true,
    target: "es2022",
    reportCompressedSize: false,
  },
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
});
