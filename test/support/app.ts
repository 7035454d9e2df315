import type { FastifyInstance } from "fastify";
import { type AppOptions, buildApp as buildRealApp } from "../../src/server/app.js";
import { recordMismatches } from "./openapi-check.js";

/**
 * `buildApp` for the server test suites: the real app, whose answers are checked against its
 * own OpenAPI document as the tests make them. `app.close()` rejects, failing the test, when an
 * answer's status is not declared for its operation or its body does not match the schema.
 */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = await buildRealApp(options);
  const mismatches = recordMismatches(app);
  app.addHook("onClose", async () => {
    if (mismatches.length === 0) return;
    const lines = mismatches.map((m) => `${m.method} ${m.route} ${m.status}: ${m.problem}`);
    throw new Error(`answers the OpenAPI document does not describe:\n${lines.join("\n")}`);
  });
  return app;
}
