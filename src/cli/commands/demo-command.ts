import type { Command } from "commander";
import { checkStorage, storageError } from "../backend.js";

/** `reqtrack demo`: one simulated pipeline run into a SQLite file, printed as tables. */
export function register(program: Command): void {
  program
    .command("demo")
    .description("Run a made-up content pipeline through reqtrack once and print what it recorded")
    .option("--storage <path>", "SQLite file to write", "data/reqtrack.db")
    .action(async (options: { storage: string }) => {
      // A `mysql://...` would otherwise become a folder named `mysql:`.
      checkStorage(options.storage, { mustExist: false });
      const { runDemo } = await import("./demo.js");
      await runDemo({ storage: options.storage, out: process.stdout }).catch((error: unknown) => {
        throw storageError(options.storage, error);
      });
    });
}
