#!/usr/bin/env node
import { Command } from "commander";
import { runDemo } from "./commands/demo.js";

const program = new Command()
  .name("reqtrack")
  .description("Request tracking for AI-generation pipelines");

program
  .command("demo")
  .description("Run a made-up content pipeline through reqtrack and print what it recorded")
  .option("--storage <path>", "SQLite file to write", "data/reqtrack.db")
  .action(async (options: { storage: string }) => {
    await runDemo({ storage: options.storage, out: process.stdout });
  });

await program.parseAsync();
