import { createTracker } from "./src/index.js";
import { buildApp } from "./test/support/app.js";
const tracker = await createTracker({ storage: ":memory:", watchdogIntervalMs: 0, logger: (await import("pino")).pino({level:"silent"}) });
const app = await buildApp({ tracker, logger: false });
console.log((await app.inject({ method: "POST", url: "/api/v1/requests", payload: {userId: "u"} })).statusCode);
try { await app.close(); console.log("closed fine"); } catch (e) { console.log("REJECTED", (e as Error).message.slice(0,600)); }
await tracker.close();
