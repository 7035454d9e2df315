import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// The layers of src/, lowest first (docs/architecture.md): a file may import from its own
// layer and the ones below it, never from one above.
const LAYERS: Record<string, number> = {
  core: 0,
  store: 1,
  analytics: 2,
  context: 2,
  tracker: 3,
  server: 4,
  client: 4,
  integrations: 4,
  cli: 5,
};
/** src/index.ts and the other files at the root of src/ re-export every layer. */
const ROOT = 6;

const src = resolve(dirname(fileURLToPath(import.meta.url)), "../../src");

function layerOf(file: string): number {
  const [top, ...rest] = relative(src, file).split(/[\\/]/);
  if (rest.length === 0) return ROOT;
  const layer = LAYERS[top as string];
  if (layer === undefined) throw new Error(`src/${top}: a folder with no layer in LAYERS`);
  return layer;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(entry.name) ? [path] : [];
  });
}

/** The relative modules a file imports or re-exports, statically or with `import()`. */
function importsOf(text: string): string[] {
  const found: string[] = [];
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["'](\.{1,2}\/[^"']+)["']/gm;
  for (const match of text.matchAll(pattern)) found.push(match[1] as string);
  return found;
}

/** Every import from a higher layer, as "importer -> imported". */
export function upwardImports(files: readonly { path: string; text: string }[]): string[] {
  const wrong: string[] = [];
  for (const { path, text } of files) {
    for (const spec of importsOf(text)) {
      const target = resolve(dirname(path), spec);
      if (layerOf(target) > layerOf(path)) {
        wrong.push(`${relative(src, path)} -> ${relative(src, target)}`);
      }
    }
  }
  return wrong;
}

describe("layers", () => {
  it("no file in src imports from a higher layer", () => {
    const files = sourceFiles(src).map((path) => ({ path, text: readFileSync(path, "utf8") }));
    expect(files.length).toBeGreaterThan(100);
    expect(upwardImports(files)).toEqual([]);
  });

  it("finds an upward import, static, re-exported or dynamic", () => {
    const files = [
      { path: join(src, "core/a.ts"), text: 'import { x } from "../tracker/tracker.js";' },
      { path: join(src, "store/b.ts"), text: 'export type { Y } from "../server/y.js";' },
      { path: join(src, "tracker/c.ts"), text: 'const m = await import("../cli/run.js");' },
      { path: join(src, "cli/d.ts"), text: 'import { z } from "../core/z.js";' },
    ];
    expect(upwardImports(files)).toEqual([
      "core/a.ts -> tracker/tracker.js",
      "store/b.ts -> server/y.js",
      "tracker/c.ts -> cli/run.js",
    ]);
  });
});
