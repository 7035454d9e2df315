/**
 * `npm run example -- <name>`: starts one example app and prints what to open.
 * Ctrl-C stops it. Data goes to data/examples/<name>.db.
 */
export interface RunningExample {
  /** What to open, printed once it runs. */
  lines: string[];
  close(): Promise<void>;
}

const EXAMPLES: Record<string, { port: number; load: () => Promise<{ main: Main }> }> = {
  "chat-lanes": { port: 7610, load: () => import("./chat-lanes/main.js") },
  "video-bot": { port: 7611, load: () => import("./video-bot/main.js") },
  "content-pipeline": { port: 7612, load: () => import("./content-pipeline/main.js") },
  "agent-crew": { port: 7613, load: () => import("./agent-crew/main.js") },
  "rag-api": { port: 7614, load: () => import("./rag-api/main.js") },
};

type Main = (port: number) => Promise<RunningExample>;

async function run(name: string | undefined): Promise<void> {
  const example = name ? EXAMPLES[name] : undefined;
  if (!name || !example) {
    console.error(
      `usage: npm run example -- <name>   (${Object.keys(EXAMPLES).join(", ")})` +
        (name ? `\nunknown example: ${name}` : ""),
    );
    process.exit(2);
  }
  process.env.REQTRACK_LOG_LEVEL ??= "warn";
  const port = Number(process.env.PORT ?? example.port);
  const { main } = await example.load();
  const running = await main(port);
  console.log(`reqtrack example ${name} is running\n`);
  for (const line of running.lines) console.log(`  ${line}`);
  console.log("\nCtrl-C to stop.");
  const stop = async () => {
    await running.close();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

await run(process.argv[2]);
