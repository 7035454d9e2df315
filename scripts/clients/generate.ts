/**
 * `npm run clients`: regenerates the Python and Go clients in clients/ from the OpenAPI
 * document the server serves at /docs/json. `--check` writes nothing and exits 1 when a
 * committed file differs from what the current document gives.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { loadDocument } from "./document.js";
import { renderGo } from "./go.js";
import { readApi } from "./operations.js";
import { renderPython } from "./python.js";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** The generated folders: everything in them is written by this script. */
export const OUTPUTS = { python: "clients/python/reqtrack_client", go: "clients/go/reqtrack" };

/** Every generated file, path (from the repository root) -> contents. */
export async function renderClients(): Promise<Map<string, string>> {
  const api = readApi(await loadDocument());
  const files = new Map<string, string>();
  const add = (folder: string, rendered: Record<string, string>) => {
    for (const [name, text] of Object.entries(rendered)) files.set(`${folder}/${name}`, text);
  };
  add(OUTPUTS.python, await renderPython(api));
  add(OUTPUTS.go, await renderGo(api));
  return files;
}

/** The files now in the generated folders, path -> contents. */
export function committedClients(): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "__pycache__") walk(path);
      } else files.set(relative(ROOT, path), readFileSync(path, "utf8"));
    }
  };
  for (const folder of Object.values(OUTPUTS)) walk(join(ROOT, folder));
  return files;
}

/** The paths that differ between two sets of files (missing on either side included). */
export function differences(a: Map<string, string>, b: Map<string, string>): string[] {
  const paths = new Set([...a.keys(), ...b.keys()]);
  return [...paths].filter((path) => a.get(path) !== b.get(path)).sort();
}

async function main(): Promise<void> {
  const files = await renderClients();
  if (process.argv.includes("--check")) {
    const changed = differences(files, committedClients());
    if (changed.length === 0) return;
    console.error(`clients/ is out of date (run npm run clients):\n${changed.join("\n")}`);
    process.exitCode = 1;
    return;
  }
  for (const folder of Object.values(OUTPUTS))
    rmSync(join(ROOT, folder), { recursive: true, force: true });
  for (const [path, text] of files) {
    mkdirSync(dirname(join(ROOT, path)), { recursive: true });
    writeFileSync(join(ROOT, path), text);
  }
  console.log(`wrote ${files.size} files in ${Object.values(OUTPUTS).join(", ")}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
