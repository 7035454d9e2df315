import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTracker } from "../../src/index.js";
import { serve } from "../../src/server/serve.js";
import { silentLogger, tempDir } from "../support/helpers.js";

const execFileAsync = promisify(execFile);
const cli = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

/** Runs the CLI; never throws, so failures can be asserted on. */
async function run(...args: string[]) {
  try {
    const { stdout, stderr } = await execFileAsync(
      process.execPath,
      ["--import", "tsx", cli, ...args],
      { env: { ...process.env, REQTRACK_URL: "", REQTRACK_KEY: "", NO_COLOR: "1" } },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

interface StatusJson {
  budget: { id: string; name: string; mode: string; amountMicros: number; scope: object };
  spentUsd: number;
  limitUsd: number;
}

describe("reqtrack budgets", () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.cleanup());

  it("creates, lists, changes, reports and deletes budgets on a local store", async () => {
    const storage = dir.file("b.db");
    const made = await run(
      "budgets",
      "create",
      "--storage",
      storage,
      "--period",
      "day",
      "--amount",
      "5",
      "--tenant",
      "acme",
      "--kind",
      "video",
      "--mode",
      "enforce",
    );
    expect(made.code, made.stderr).toBe(0);
    const id = /^(bud_\S+):/.exec(made.stdout)?.[1] as string;
    expect(id).toBeDefined();

    const tracker = await createTracker({ storage, watchdogIntervalMs: 0, logger: silentLogger() });
    try {
      expect((await tracker.budgets.get(id))?.scope).toMatchObject({
        tenantId: "acme",
        kind: "video",
      });
      const r = await tracker.createRequest({ userId: "u", tenantId: "acme", kind: "video" });
      await tracker.recordCost(r, { service: "veo", amountUsd: 2 });
    } finally {
      await tracker.close();
    }

    const listed = JSON.parse(
      (await run("budgets", "list", "--storage", storage, "--json")).stdout,
    );
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ budget: { id, mode: "enforce" }, spentUsd: 2, limitUsd: 5 });
    const table = await run("budgets", "list", "--storage", storage);
    expect(table.stdout).toContain(id);
    expect(table.stdout).toContain("tenant acme, kind video");

    expect((await run("budgets", "update", id, "--storage", storage, "--amount", "8")).code).toBe(
      0,
    );
    const status = await run("budgets", "status", id, "--storage", storage);
    expect(status.stdout).toContain("spent $2 of $8 (25.0%)");

    // Bad input: one line naming the field, a non-zero exit, nothing written.
    const bad = await run(
      "budgets",
      "create",
      "--storage",
      storage,
      "--period",
      "fortnight",
      "--amount",
      "1",
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim()).toBe("reqtrack: period: must be day, week or month");
    const nothing = await run("budgets", "update", id, "--storage", storage);
    expect(nothing.code).not.toBe(0);
    expect(nothing.stderr).toContain("Nothing to change");
    expect(
      JSON.parse((await run("budgets", "list", "--storage", storage, "--json")).stdout),
    ).toHaveLength(1);

    expect((await run("budgets", "delete", id, "--storage", storage)).stdout).toContain("deleted");
    const again = await run("budgets", "delete", id, "--storage", storage);
    expect(again.code).not.toBe(0);
    expect(again.stderr.trim()).toBe(`reqtrack: Budget ${id} not found`);
  });

  it("works over --url with a tenant key: its tenant's budgets only", async () => {
    const storage = dir.file("r.db");
    const tracker = await createTracker({ storage, watchdogIntervalMs: 0, logger: silentLogger() });
    const key = (await tracker.keys.create({ role: "writer", tenantId: "acme" })).key;
    const other = await tracker.budgets.create({ tenantId: "zeta", period: "month", amountUsd: 3 });
    const server = await serve({ tracker, host: "127.0.0.1", port: 0 });
    const remote = ["--url", server.url, "--key", key];
    try {
      const made = await run("budgets", "create", ...remote, "--period", "week", "--amount", "4");
      expect(made.code, made.stderr).toBe(0);
      const id = /^(bud_\S+):/.exec(made.stdout)?.[1] as string;
      expect((await tracker.budgets.get(id))?.scope.tenantId).toBe("acme");

      const listed = JSON.parse(
        (await run("budgets", "list", ...remote, "--json")).stdout,
      ) as StatusJson[];
      expect(listed.map((s) => s.budget.id)).toEqual([id]);
      const foreign = await run("budgets", "status", other.id, ...remote);
      expect(foreign.code).not.toBe(0);
      expect(foreign.stderr.trim()).toBe(`reqtrack: Budget ${other.id} not found`);
      const all = await run(
        "budgets",
        "create",
        ...remote,
        "--tenant",
        "zeta",
        "--period",
        "day",
        "--amount",
        "1",
      );
      expect(all.code).not.toBe(0);
      expect(all.stderr).toContain("confined to tenant acme");

      expect((await run("budgets", "update", id, ...remote, "--mode", "enforce")).code).toBe(0);
      expect((await tracker.budgets.get(id))?.mode).toBe("enforce");
      expect((await run("budgets", "delete", id, ...remote)).code).toBe(0);
      expect(await tracker.budgets.get(id)).toBeNull();
      expect(await tracker.budgets.get(other.id)).not.toBeNull();
    } finally {
      await server.close();
    }
  });
});
