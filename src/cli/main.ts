#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { COMMANDS, findCommand } from "./command-table.js";
import { oneLine } from "./fail.js";
import { version } from "./version.js";

const program = new Command()
  .name("reqtrack")
  .description("Request tracking for AI-generation pipelines")
  .version(version(), "-V, --version", "print the version")
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(text.split("\n")[0] + "\n") });

// Only the command being run is loaded: help and --version never import Fastify, pg or SQLite.
const entry = findCommand(process.argv.slice(2));
if (entry) {
  const module = await entry.load();
  module.register(program);
} else {
  for (const c of COMMANDS) program.command(c.name).description(c.summary);
}

try {
  await program.parseAsync();
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  // Expected errors (bad flags, a refused bind, an unreachable server) get one clear line.
  process.stderr.write(`reqtrack: ${oneLine(error)}\n`);
  process.exit(1);
}
