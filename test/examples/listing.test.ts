import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), "utf8");

// The examples `npm run example` knows, as examples/run.ts lists them.
const listed = [...read("examples/run.ts").matchAll(/^ {2}"([a-z-]+)": \{ port: /gm)].map(
  (m) => m[1] as string,
);

describe("the examples", () => {
  it("are the five seed systems, each with its app, test and guide", () => {
    expect(listed.sort()).toEqual([
      "agent-crew",
      "chat-lanes",
      "content-pipeline",
      "rag-api",
      "video-bot",
    ]);
    for (const name of listed) {
      expect(existsSync(new URL(`examples/${name}/main.ts`, root)), name).toBe(true);
      expect(existsSync(new URL(`test/examples/${name}.test.ts`, root)), name).toBe(true);
      expect(read(`docs/guides/${name}.md`), name).toContain(`npm run example --`);
    }
  });

  it("are listed in the README, one line each with its command", () => {
    const readme = read("README.md");
    const section = readme.slice(
      readme.indexOf("## Examples"),
      readme.indexOf("\n## ", readme.indexOf("## Examples") + 1),
    );
    for (const name of listed) {
      const lines = section.split("\n").filter((l) => l.includes(`\`npm run example -- ${name}\``));
      expect(lines, name).toHaveLength(1);
    }
  });
});
