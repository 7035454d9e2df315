import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The built CLI: the test runs what `npx reqtrack serve` runs. */
export const CLI = fileURLToPath(new URL("../../../dist/cli/main.js", import.meta.url));

/** A `reqtrack serve` child process on a port of its own choosing. */
export interface ServeProcess {
  child: ChildProcess;
  url: string;
  /** Everything the process wrote to stdout and stderr so far (logs, banner). */
  output: () => string;
  /** kill -9, and wait until it is gone. */
  kill9(): Promise<void>;
  /** SIGTERM (graceful shutdown), and wait until it is gone. */
  stop(): Promise<void>;
}

/** Spawns `node dist/cli/main.js serve --port 0 <args>` and waits for its banner. */
export async function spawnServe(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [CLI, "serve", "--port", "0", ...args], {
    env: { ...process.env, REQTRACK_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${output}`)), 20_000);
    const look = () => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stderr?.on("data", look);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}:\n${output}`));
    });
  });
  const signal = async (name: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
    await exited;
  };
  return {
    child,
    url,
    output: () => output,
    kill9: () => signal("SIGKILL"),
    stop: () => signal("SIGTERM"),
  } satisfies ServeProcess;
}
