import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { COMMANDS } from "../../src/cli/command-table.js";

// docs/cli.md is the CLI's reference: every registered command has its section and help text.
describe("docs/cli.md", () => {
  const doc = readFileSync(new URL("../../docs/cli.md", import.meta.url), "utf8");
  const sections = [...doc.matchAll(/^## reqtrack ([a-z-]+)$/gm)].map((m) => m[1]);

  it("has a section for every command of the command table, and none for a command that is not there", () => {
    expect(sections.sort()).toEqual(COMMANDS.map((c) => c.name).sort());
  });

  it("shows each command's --help, and the summary the table gives it in the top-level help", () => {
    const top = (doc.split("$ reqtrack --help\n")[1]?.split("```")[0] ?? "").replace(/\s+/g, " ");
    for (const command of COMMANDS) {
      const section = doc.split(`## reqtrack ${command.name}\n`)[1]?.split("\n## ")[0] ?? "";
      expect(section, command.name).toContain(`$ reqtrack ${command.name} --help`);
      expect(section, command.name).toContain(`Usage: reqtrack ${command.name} [options]`);
      expect(top, command.name).toContain(`${command.name} ${command.summary}`);
    }
  });

  it("ends with a terminal recording of the commands", () => {
    const recording = doc.split("## Terminal recording")[1] ?? "";
    for (const name of [
      "demo",
      "requests list",
      "requests show",
      "stats",
      "costs",
      "export",
      "import",
      "tail",
    ]) {
      expect(recording).toContain(`$ reqtrack ${name} `);
    }
  });
});
