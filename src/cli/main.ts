#!/usr/bin/env node
import { Command } from "commander";
import { ReqtrackError } from "../core/errors.js";
import { runDemo } from "./commands/demo.js";
import { registerKeys } from "./commands/keys.js";
import { registerMigrate } from "./commands/migrate.js";
import { registerServe } from "./commands/serve.js";

const program = new Command()
  .name("reqtrack")
  .description("Request tracking for AI-generation pipelines");

registerServe(program);
registerKeys(program);
registerMigrate(program);

program
  .command("demo")
  .description("Run a made-up content pipeline through reqtrack once and print what it recorded")
  .option("--storage <path>", "SQLite file to write", "data/reqtrack.db")
  .action(async (options: { storage: string }) => {
    await runDemo({ storage: options.storage, out: process.stdout });
  });

try {
  await program.parseAsync();
} catch (error) {
  // Expected errors (bad flags, a refused bind) get one clear line, not a stack trace.
  const message =
    error instanceof ReqtrackError || error instanceof Error ? error.message : String(error);
  process.stderr.write(`reqtrack: ${message}\n`);
  process.exit(1);
}
