import { execFile, spawnSync } from "node:child_process";
import { symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import openapiTS, { astToString } from "openapi-typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../support/helpers.js";
import { liveServer } from "./live-server.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const tsc = join(root, "node_modules/typescript/bin/tsc");

/** A consumer's program on the generated types and openapi-fetch. */
const CLIENT = `
import createClient from "openapi-fetch";
import type { paths } from "./schema.js";

const client = createClient<paths>({
  baseUrl: process.env.BASE_URL,
  headers: { authorization: \`Bearer \${process.env.API_KEY}\` },
});
const created = await client.POST("/api/v1/requests", {
  body: { userId: "user-ts", kind: "ts_client", initialMessage: "hello" },
});
if (!created.data) throw new Error(\`create: \${created.error?.code}\`);
const id: string = created.data.id;
await client.POST("/api/v1/requests/{id}/transitions", {
  params: { path: { id } },
  body: { to: "running", workerId: "w-ts" },
});
const got = await client.GET("/api/v1/requests/{id}", { params: { path: { id } } });
const page = await client.GET("/api/v1/requests", { params: { query: { kind: "ts_client" } } });
const missing = await client.GET("/api/v1/requests/{id}", { params: { path: { id: "req_nope" } } });
console.log(
  JSON.stringify({
    status: created.response.status,
    tenantId: created.data.tenantId,
    running: got.data?.status,
    stages: got.data?.stages.length,
    listed: page.data?.items.map((r) => r.id).includes(id),
    missing: [missing.response.status, missing.error?.code],
  }),
);
`;

/** Code the generated types must refuse: no userId, a status that does not exist. */
const WRONG = `
import createClient from "openapi-fetch";
import type { paths } from "./schema.js";
const client = createClient<paths>({});
await client.POST("/api/v1/requests", { body: { kind: "k" } });
await client.POST("/api/v1/requests/{id}/transitions", {
  params: { path: { id: "x" } },
  body: { to: "exploded" },
});
`;

const compile = (dir: string, file: string) =>
  spawnSync(
    process.execPath,
    [
      tsc,
      "--strict",
      "--module",
      "nodenext",
      "--target",
      "es2022",
      "--types",
      "node",
      "--outDir",
      "out",
      file,
    ],
    { cwd: dir, encoding: "utf8" },
  );

describe("a TypeScript client generated from the OpenAPI document", () => {
  const dir = tempDir("reqtrack-ts-client-");
  let server: Awaited<ReturnType<typeof liveServer>>;

  beforeAll(async () => {
    server = await liveServer();
    const doc = (await (await fetch(`${server.url}/docs/json`)).json()) as Parameters<
      typeof openapiTS
    >[0];
    // openapi-typescript: the document's paths, operations and components as types.
    writeFileSync(join(dir.dir, "schema.d.ts"), astToString(await openapiTS(doc)));
    writeFileSync(join(dir.dir, "package.json"), JSON.stringify({ type: "module" }));
    symlinkSync(join(root, "node_modules"), join(dir.dir, "node_modules"));
  });
  afterAll(async () => {
    await server.close();
    dir.cleanup();
  });

  it("compiles with tsc --strict and calls the live server", async () => {
    writeFileSync(join(dir.dir, "client.ts"), CLIENT);
    const compiled = compile(dir.dir, "client.ts");
    expect(compiled.status, `${compiled.stdout}${compiled.stderr}`).toBe(0);
    // Asynchronously: the server answers from this process.
    const run = await promisify(execFile)(process.execPath, ["out/client.js"], {
      cwd: dir.dir,
      encoding: "utf8",
      env: { ...process.env, BASE_URL: server.url, API_KEY: server.key },
    });
    expect(JSON.parse(run.stdout)).toEqual({
      status: 201,
      tenantId: "A",
      running: "running",
      stages: 0,
      listed: true,
      missing: [404, "RT_ERR_NOT_FOUND"],
    });
  }, 120_000); // tsc --strict on a whole consumer: tens of seconds on a loaded machine

  it("refuses, at compile time, a body the document does not allow", () => {
    writeFileSync(join(dir.dir, "wrong.ts"), WRONG);
    const compiled = compile(dir.dir, "wrong.ts");
    expect(compiled.status).not.toBe(0);
    expect(compiled.stdout).toMatch(/wrong\.ts\(5,.*userId/);
    expect(compiled.stdout).toMatch(/wrong\.ts\(8,.*"exploded"/);
  }, 120_000); // tsc --strict on a whole consumer: tens of seconds on a loaded machine
});
