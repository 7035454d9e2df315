/**
 * reqtrack/server: the HTTP API on a tracker.
 *
 * @example
 * import { createTracker } from "reqtrack";
 * import { serve } from "reqtrack/server";
 * const server = await serve({ tracker: await createTracker(), port: 7600 });
 */
export { type AppOptions, buildApp } from "./app.js";
export type { Principal } from "./auth.js";
export { type RunningServer, type ServeOptions, serve } from "./serve.js";
