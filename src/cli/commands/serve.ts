import { createServer } from "node:net";
import type { Command } from "commander";
import { ValidationError } from "../../core/errors.js";
import { checkStorage, storageError } from "../backend.js";
import { CliError } from "../fail.js";
import { type PostgresFlags, postgresOptions, withPostgresOptions } from "../postgres-options.js";

/** `reqtrack serve`: the HTTP API on one tracker, with graceful shutdown on SIGTERM/SIGINT. */
export function registerServe(program: Command): void {
  const command = program
    .command("serve")
    .description("Run the HTTP API, live stream, metrics and OpenAPI docs")
    .option(
      "--storage <path>",
      "SQLite file (or postgres:// URL)",
      process.env.REQTRACK_STORAGE ?? "data/reqtrack.db",
    )
    .option("--host <host>", "address to bind", process.env.HOST ?? "127.0.0.1")
    .option("--port <port>", "port to listen on", process.env.PORT ?? "7600")
    .option("--demo", "feed a steady trickle of realistic demo requests")
    .option(
      "--max-in-flight <n>",
      "calls served at once before new ones get 503 RT_ERR_OVERLOADED",
      process.env.REQTRACK_MAX_IN_FLIGHT ?? "256",
    )
    .option(
      "--max-event-loop-delay <ms>",
      "event-loop delay past which new calls get 503 RT_ERR_OVERLOADED; 0 = off (for a process with its cores to itself)",
      process.env.REQTRACK_MAX_EVENT_LOOP_DELAY ?? "0",
    );
  withPostgresOptions(command).action(
    async (
      options: {
        host: string;
        port: string;
        demo?: boolean;
        maxInFlight: string;
        maxEventLoopDelay: string;
      } & PostgresFlags,
    ) => {
      const port = Number(options.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new Error(`--port must be a port number, not ${options.port}`);
      }
      const maxInFlight = Number(options.maxInFlight);
      if (!Number.isInteger(maxInFlight) || maxInFlight < 1) {
        throw new ValidationError("--max-in-flight", "must be a whole number of 1 or more");
      }
      const maxEventLoopDelayMs = Number(options.maxEventLoopDelay);
      if (!Number.isInteger(maxEventLoopDelayMs) || maxEventLoopDelayMs < 0) {
        throw new ValidationError(
          "--max-event-loop-delay",
          "must be a whole number of ms, 0 or more",
        );
      }
      checkStorage(options.storage, { mustExist: false });
      // Checked before the database is created or migrated, so a busy port changes nothing.
      await assertPortFree(options.host, port);
      const [{ createTracker }, { serve }, { startDemoTrickle, DEMO_KINDS }] = await Promise.all([
        import("../../tracker/create-tracker.js"),
        import("../../server/serve.js"),
        import("./demo-trickle.js"),
      ]);
      const tracker = await createTracker({
        storage: options.storage,
        postgres: postgresOptions(options),
      }).catch((error: unknown) => {
        throw storageError(options.storage, error);
      });
      const server = await serve({
        tracker,
        host: options.host,
        port,
        shedding: { maxInFlight, maxEventLoopDelayMs },
      }).catch(async (error: unknown) => {
        await tracker.close();
        throw error;
      });
      const demo = options.demo ? startDemoTrickle(tracker) : null;
      const say = (line: string) => process.stderr.write(`${line}\n`);
      say(`reqtrack listening on ${server.url}  (storage: ${options.storage})`);
      say(`  API docs:   ${server.url}/docs`);
      // With keys, the stream (like every API call) needs one: the line must work as printed.
      const auth = server.open ? "" : '-H "Authorization: Bearer $REQTRACK_KEY" ';
      say(`  live:       curl -N ${auth}${server.url}/api/v1/stream`);
      if (!server.open) say("              (REQTRACK_KEY: a key from `npx reqtrack keys create`)");
      say(`  metrics:    ${server.url}/metrics`);
      if (server.open) {
        say("  No API key exists: the API is open and bound to this machine only.");
        say(`  Create a key: npx reqtrack keys create --role admin --storage ${options.storage}`);
      }
      if (demo) {
        say("  Demo: a trickle of made-up requests across three tenants is running.");
        say(
          `  Its worker claims only its own kinds (${DEMO_KINDS.join(", ")}); requests you create are left for your workers.`,
        );
      }
      const stop = async (signal: string) => {
        say(`${signal}: shutting down (draining requests, flushing writes)`);
        await demo?.stop();
        await server.close();
        process.exit(0);
      };
      process.once("SIGTERM", () => void stop("SIGTERM"));
      process.once("SIGINT", () => void stop("SIGINT"));
    },
  );
}

/** Binds and releases `host:port`, so a port in use is reported before anything is opened. */
async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        new CliError(
          error.code === "EADDRINUSE"
            ? `port ${port} on ${host} is in use (EADDRINUSE): stop the other server or pass --port`
            : `cannot listen on ${host}:${port}: ${error.message}`,
        ),
      ),
    );
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

export { registerServe as register };
