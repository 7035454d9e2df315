import type { Command } from "commander";
import type { RequestStatus } from "../../core/types.js";
import type { ReplayJob } from "../../tracker/replay.js";
import { CliError } from "../fail.js";
import type { PostgresFlags } from "../postgres-options.js";
import { Progress } from "../transfer/progress.js";
import { numberFlag, timeFlag, withLocalTracker, withStorage } from "./tracker-flags.js";

interface ReplayFlags extends PostgresFlags {
  fromStage?: string;
  input?: string;
  tag?: string[];
  status?: string;
  kind?: string;
  tenant?: string;
  from?: string;
  to?: string;
  rate?: string;
  limit?: string;
  job?: string;
  new?: boolean;
  json?: boolean;
  progress?: boolean;
}

const collect = (value: string, list: string[] = []) => [...list, value];

/**
 * `reqtrack replay <id>`: one replay. `reqtrack replay --status failed --kind x`: every
 * matching request, throttled, with a progress bar, as a job kept in the store: run the same
 * command again after a crash (or `--job <id>`) and it goes on where it stopped, replaying
 * nothing twice.
 */
export function register(program: Command): void {
  withStorage(
    program
      .command("replay [id]")
      .description("Replay one request, or every request matching the filters (resumable)")
      .option("--from-stage <stage>", "reuse the stages before this one; the worker resumes here")
      .option("--input <json>", "one replay: its input instead of the original's")
      .option("--tag <tag>", "tags instead of the original's (repeatable)", collect)
      .option("--status <list>", "bulk: statuses, comma list (e.g. failed,timeout)")
      .option("--kind <kind>", "bulk: operation type")
      .option("--tenant <id>", "bulk: tenant")
      .option("--from <time>", "bulk: created at or after (ISO-8601 or epoch ms)")
      .option("--to <time>", "bulk: created before")
      .option("--rate <n>", "bulk: replays per second at most", "10")
      .option("--limit <n>", "bulk: at most this many requests")
      .option("--job <id>", "bulk: resume this job")
      .option("--new", "bulk: start a new job even when an unfinished one has the same filter")
      .option("--json", "print the replay (or the job) as JSON")
      .option("--progress", "bulk: draw the progress bar even when stderr is not a terminal")
      .option("--no-progress", "bulk: no progress bar (by default it shows only on a terminal)"),
  ).action(async (id: string | undefined, o: ReplayFlags) => {
    if (id !== undefined) {
      await one(id, o);
      return;
    }
    await bulk(o);
  });
}

async function one(id: string, o: ReplayFlags): Promise<void> {
  let input: unknown;
  if (o.input !== undefined) {
    try {
      input = JSON.parse(o.input);
    } catch {
      throw new CliError("--input must be JSON");
    }
  }
  const replay = await withLocalTracker(o, (t) =>
    t.replay(id, {
      ...(input !== undefined ? { input } : {}),
      ...(o.fromStage !== undefined ? { fromStage: o.fromStage } : {}),
      ...(o.tag !== undefined ? { tags: o.tag } : {}),
    }),
  );
  process.stdout.write(
    o.json
      ? `${JSON.stringify(replay)}\n`
      : `${replay.id} replays ${id} (${replay.status}${o.fromStage ? `, from stage ${o.fromStage}` : ""})\n`,
  );
}

async function bulk(o: ReplayFlags): Promise<void> {
  const filter = {
    ...(o.status !== undefined ? { status: o.status.split(",") as RequestStatus[] } : {}),
    ...(o.kind !== undefined ? { kind: o.kind } : {}),
    ...(o.tenant !== undefined ? { tenantId: o.tenant } : {}),
    ...(o.from !== undefined ? { from: timeFlag("from", o.from) as number } : {}),
    ...(o.to !== undefined ? { to: timeFlag("to", o.to) as number } : {}),
  };
  if (o.job === undefined && Object.keys(filter).length === 0) {
    throw new CliError(
      "Give a request id, or filters (--status, --kind, --tenant, --from, --to), or --job <id>",
    );
  }
  const rate = numberFlag("rate", o.rate);
  const limit = numberFlag("limit", o.limit);
  const job = await withLocalTracker(o, async (t) => {
    let jobId = o.job;
    if (jobId === undefined && !o.new) {
      const same = JSON.stringify(filter);
      const unfinished = (await t.replays.jobs()).find(
        (j) =>
          j.status !== "completed" &&
          JSON.stringify(j.filter) === same &&
          j.fromStage === (o.fromStage ?? null),
      );
      if (unfinished) {
        jobId = unfinished.id;
        process.stderr.write(
          `Resuming replay job ${unfinished.id} (${unfinished.done} of ${unfinished.total} done)\n`,
        );
      }
    }
    if (jobId === undefined) {
      const started = await t.replays.start(filter, {
        ...(rate !== undefined ? { ratePerSecond: rate } : {}),
        ...(limit !== undefined ? { limit } : {}),
        ...(o.fromStage !== undefined ? { fromStage: o.fromStage } : {}),
        ...(o.tag !== undefined ? { tags: o.tag } : {}),
      });
      jobId = started.id;
      process.stderr.write(`Replay job ${started.id}: ${started.total} requests\n`);
    }
    const bar = new Progress("replaying", null, 0, o.progress);
    const finished: ReplayJob = await t.replays.run(jobId, {
      onProgress: (p) => bar.update(p.done, p.total),
    });
    bar.finish(finished.done);
    return finished;
  });
  if (o.json) {
    process.stdout.write(`${JSON.stringify(job)}\n`);
    return;
  }
  process.stdout.write(
    `Replay job ${job.id} ${job.status}: ${job.done} of ${job.total} replayed${job.error ? ` (${job.error})` : ""}\n`,
  );
  if (job.status === "stopped") process.exitCode = 1;
}
