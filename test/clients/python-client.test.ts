import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { liveServer } from "./live-server.js";

const script = fileURLToPath(new URL("./openapi_client.py", import.meta.url));

/**
 * Python: no client generator is installable on this machine (only npm and Debian packages
 * are reachable, and neither has one), so a stdlib script calls the API by the document's
 * operationIds and paths instead. It is not a generated client.
 */
describe("a Python client calling the API from the OpenAPI document", () => {
  let server: Awaited<ReturnType<typeof liveServer>>;
  beforeAll(async () => {
    server = await liveServer();
  });
  afterAll(async () => server.close());

  it("creates, starts and reads a request, and gets a coded 404", async () => {
    const run = await promisify(execFile)("python3", [script, server.url, server.key], {
      encoding: "utf8",
    });
    expect(JSON.parse(run.stdout)).toEqual({
      status: 201,
      tenantId: "A",
      running: "running",
      missing: [404, "RT_ERR_NOT_FOUND"],
    });
  });
});
