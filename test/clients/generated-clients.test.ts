import { execFile, spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTracker, type Tracker } from "../../src/index.js";
import { buildApp as buildRealApp } from "../../src/server/app.js";
import { buildApp } from "../support/app.js";
import { silentLogger, tempDir } from "../support/helpers.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const run = promisify(execFile);
const hasGo = spawnSync("go", ["version"], { encoding: "utf8" }).status === 0;
const requireGo = process.env.REQTRACK_REQUIRE_GO === "1";
// The Go module has no dependencies: it must build with no proxy and no module download.
const goEnv = { ...process.env, GOFLAGS: "-mod=mod", GOPROXY: "off" };

/** What both programs print after the same calls (test/clients/python_program.py, go-program/). */
const expected = (kind: string) => ({
  created: ["pending", "A", kind],
  started: ["running", `w-${kind.slice(0, 2)}`],
  done: ["completed", { url: "v.mp4" }],
  detail: [true, "completed", [["render", "completed", { frames: 24 }]], [["openai", 0.25]], 0.25],
  events: ["progress"],
  listed: [true],
  errors: { missing: [404, "RT_ERR_NOT_FOUND"], invalid: [400, "RT_ERR_VALIDATION", "userId"] },
});

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: "127.0.0.1", port: 0 });
  return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
}

describe("the generated Python and Go clients against a server on a SQLite file", () => {
  const dir = tempDir("reqtrack-clients-");
  let tracker: Tracker;
  let app: FastifyInstance;
  let tampered: FastifyInstance;
  let url: string;
  let tamperedUrl: string;
  let key: string;
  let requestId: string;

  beforeAll(async () => {
    tracker = await createTracker({
      storage: dir.file("reqtrack.db"),
      logger: silentLogger(),
      watchdogIntervalMs: 0,
    });
    ({ key } = await tracker.keys.create({ role: "writer", tenantId: "A" }));
    // Every answer is also checked against the document on close (test/support/app.ts).
    app = await buildApp({ tracker, logger: false, shedding: false });
    url = await listen(app);
    requestId = (await tracker.createRequest({ userId: "u", tenantId: "A" })).id;
    // A server whose request detail lacks a field the document requires.
    tampered = await buildRealApp({ tracker, logger: false, shedding: false });
    tampered.addHook("onSend", async (request, _reply, payload) => {
      if (request.routeOptions.url !== "/api/v1/requests/:id") return payload;
      const body = JSON.parse(String(payload)) as Record<string, unknown>;
      delete body.tenantId;
      return JSON.stringify(body);
    });
    tamperedUrl = await listen(tampered);
  });
  afterAll(async () => {
    await tampered?.close();
    await app?.close();
    await tracker?.close();
    dir.cleanup();
  });

  const python = (...args: string[]) =>
    run("python3", [join(root, "test/clients/python_program.py"), ...args], {
      encoding: "utf8",
      env: { ...process.env, PYTHONPATH: join(root, "clients/python") },
    });

  it("Python: creates, starts, records, completes, reads, lists and gets coded errors", async () => {
    const { stdout } = await python(url, key);
    const summary = JSON.parse(stdout) as Record<string, unknown>;
    expect(summary).toMatchObject(expected("py_client"));
    // The overview counts this run's request among the tenant's completed ones.
    const [total, completed] = summary.overview as [number, number];
    expect(completed).toBeGreaterThanOrEqual(1);
    expect(total).toBeGreaterThanOrEqual(completed);
  }, 60_000);

  it("Python: an answer missing a required field fails with ResponseMismatch", async () => {
    await expect(python(url, key, requestId)).resolves.toMatchObject({
      stdout: expect.stringContaining(`"tenantId": "A"`),
    });
    await expect(python(tamperedUrl, key, requestId)).rejects.toMatchObject({
      stderr: expect.stringMatching(
        /ResponseMismatch: getRequest: \$: missing required key 'tenantId'/,
      ),
    });
  }, 60_000);

  const go = (...args: string[]) =>
    run("go", ["run", ".", ...args], {
      cwd: join(root, "test/clients/go-program"),
      encoding: "utf8",
      env: goEnv,
    });

  it.skipIf(!hasGo && !requireGo)(
    "Go: the same calls, with go run and no module downloads",
    async () => {
      if (!hasGo) throw new Error("REQTRACK_REQUIRE_GO=1 but no `go`: apt-get install golang-go");
      const { stdout } = await go(url, key);
      const summary = JSON.parse(stdout) as Record<string, unknown>;
      expect(summary).toMatchObject(expected("go_client"));
      const [total, completed] = summary.overview as [number, number];
      expect(completed).toBeGreaterThanOrEqual(1);
      expect(total).toBeGreaterThanOrEqual(completed);
    },
    300_000, // the first go run compiles the standard library packages it needs
  );

  it.skipIf(!hasGo && !requireGo)(
    "Go: an answer missing a required field fails with a ResponseMismatch",
    async () => {
      if (!hasGo) throw new Error("REQTRACK_REQUIRE_GO=1 but no `go`: apt-get install golang-go");
      await expect(go(url, key, requestId)).resolves.toMatchObject({
        stdout: expect.stringContaining(`"tenantId":"A"`),
      });
      await expect(go(tamperedUrl, key, requestId)).rejects.toMatchObject({
        stderr: expect.stringContaining(`getRequest: $: missing required key "tenantId"`),
      });
    },
    300_000,
  );
});

if (!hasGo && !requireGo) {
  console.warn("Go client tests skipped: no `go` (apt-get install golang-go); CI requires them");
}
