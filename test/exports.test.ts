import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}/package.json`, "utf8")) as {
  name: string;
  bin: Record<string, string>;
  exports: Record<string, string | { types: string; default: string }>;
};

/** The built package resolves the way a user imports it (npm test builds before testing). */
describe("package exports", () => {
  const subpaths = Object.keys(pkg.exports).filter((key) => key !== "./package.json");

  it.each(subpaths)(
    "resolves %s with a types and a default condition, and exports something",
    (subpath) => {
      const entry = pkg.exports[subpath];
      expect(entry).toMatchObject({
        types: expect.stringMatching(/\.d\.ts$/),
        default: expect.stringMatching(/\.js$/),
      });
      const specifier = subpath === "." ? pkg.name : `${pkg.name}/${subpath.slice(2)}`;
      const out = execFileSync(
        process.execPath,
        [
          "--input-type=module",
          "-e",
          `const m = await import(${JSON.stringify(specifier)}); console.log(Object.keys(m).join(","));`,
        ],
        { cwd: root, encoding: "utf8" },
      );
      expect(out.trim().length).toBeGreaterThan(0);
    },
  );

  it("has a reqtrack bin that runs", () => {
    const out = execFileSync(process.execPath, [`${root}/${pkg.bin.reqtrack}`, "--help"], {
      encoding: "utf8",
    });
    expect(out).toContain("serve");
    expect(out).toContain("keys");
  });
});
