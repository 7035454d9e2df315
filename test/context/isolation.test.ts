import { EventEmitter, once } from "node:events";
import { Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setImmediate as nextTurn, setTimeout as delay } from "node:timers/promises";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import {
  bindRequest,
  createTracker,
  currentRequest,
  currentRequestId,
  propagationHeaders,
} from "../../src/index.js";
import { captureLogger } from "../support/helpers.js";

/**
 * A fixed set of async workers pulling jobs from one queue, started outside any request: the
 * classic place where context leaks, because a job runs in the loop's context, not its
 * submitter's.
 */
class JobPool {
  private readonly jobs: { run: () => Promise<void>; done: () => void }[] = [];
  private wake: (() => void)[] = [];

  constructor(workers: number) {
    for (let i = 0; i < workers; i++) void this.loop();
  }

  run(job: () => Promise<void>): Promise<void> {
    return new Promise((done) => {
      this.jobs.push({ run: job, done });
      this.wake.shift()?.();
    });
  }

  private async loop(): Promise<void> {
    for (;;) {
      const job = this.jobs.shift();
      if (!job) {
        await new Promise<void>((resolve) => this.wake.push(resolve));
        continue;
      }
      await job.run();
      job.done();
    }
  }
}

/** worker_threads that echo the headers they were handed: ids cross threads only as data. */
class ThreadPool {
  private readonly threads: Worker[];
  private readonly waiting = new Map<number, (value: Record<string, string>) => void>();
  private next = 0;

  constructor(size: number) {
    const code = `
      const { parentPort } = require("node:worker_threads");
      parentPort.on("message", ({ task, headers }) => {
        setTimeout(() => parentPort.postMessage({ task, headers }), task % 3);
      });`;
    this.threads = Array.from({ length: size }, () => {
      const thread = new Worker(code, { eval: true });
      // Replies arrive as 'message' events outside any request scope.
      thread.on("message", ({ task, headers }) => this.waiting.get(task)?.(headers));
      return thread;
    });
  }

  echo(headers: Record<string, string>): Promise<Record<string, string>> {
    const task = this.next++;
    const thread = this.threads[task % this.threads.length] as Worker;
    return new Promise((resolve) => {
      this.waiting.set(task, resolve);
      thread.postMessage({ task, headers });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.map((thread) => thread.terminate()));
  }
}

describe("request scope isolation (seed 003)", () => {
  it("1,000 concurrent requests through timers, promises, streams, emitters and worker pools never see each other's ids, and every log line carries the right one", async () => {
    const { logger, lines } = captureLogger("info");
    const tracker = await createTracker({ storage: ":memory:", logger, watchdogIntervalMs: 0 });
    const log = tracker.logger;
    const jobs = new JobPool(8);
    const threads = new ThreadPool(4);
    const broadcaster = new EventEmitter();
    broadcaster.setMaxListeners(0);
    const mismatches: string[] = [];
    const hop = (name: string, owner: string) => {
      const seen = currentRequestId();
      if (seen !== owner) mismatches.push(`${name}: ${owner} saw ${seen}`);
      log.info({ hop: name, owner }, "hop");
    };
    // Emits every request's "done" from a timer outside any scope, in arrival order.
    const pendingDone: string[] = [];
    const flushDone = setInterval(() => {
      for (const id of pendingDone.splice(0)) broadcaster.emit(`done:${id}`);
    }, 1);

    async function handle(i: number): Promise<void> {
      const req = await tracker.createRequest({ userId: `user-${i % 17}`, kind: "isolation" });
      const id = req.id;
      await tracker.withRequest(id, async () => {
        hop("start", id);
        await delay(i % 5); // timers
        hop("timer", id);
        await nextTurn();
        hop("immediate", id);
        await new Promise<void>((resolve) => process.nextTick(resolve));
        hop("next-tick", id);
        await Promise.all(
          [1, 2, 3].map(async (n) => {
            await delay(n % 2);
            hop(`promise-${n}`, id); // promises
          }),
        );
        await pipeline(
          Readable.from(["a", "b"]),
          new Transform({
            transform(chunk, _encoding, callback) {
              hop("stream-transform", id); // streams
              callback(null, chunk);
            },
          }),
          new Writable({
            write(_chunk, _encoding, callback) {
              hop("stream-write", id);
              setTimeout(callback, 0);
            },
          }),
        );
        const own = new EventEmitter(); // an emitter of this request, fired later from a timer
        setTimeout(() => own.emit("ready"), i % 3);
        await once(own, "ready");
        hop("emitter", id);
        // A shared emitter fired from outside any scope: the bound listener keeps its request.
        const heard = new Promise<void>((resolve) =>
          broadcaster.once(
            `done:${id}`,
            bindRequest(() => {
              hop("shared-emitter", id);
              resolve();
            }),
          ),
        );
        pendingDone.push(id);
        await heard;
        // A job on the shared pool, bound at submission, runs as this request.
        await jobs.run(
          bindRequest(async () => {
            hop("job-pool", id);
            await delay(i % 2);
            hop("job-pool-after-await", id);
          }),
        );
        hop("after-job-pool", id);
        // Another thread knows the id only from the headers it was handed.
        const echoed = await threads.echo({ ...propagationHeaders() });
        if (echoed["X-Request-ID"] !== id)
          mismatches.push(`thread: ${id} got ${echoed["X-Request-ID"]}`);
        hop("after-thread", id);
        await currentRequest()?.increment("hops", 1);
        hop("end", id);
      });
    }

    try {
      await Promise.all(Array.from({ length: 1000 }, (_, i) => handle(i)));
    } finally {
      clearInterval(flushDone);
      await threads.close();
    }

    expect(mismatches).toEqual([]);
    const hops = lines.filter((line) => line.msg === "hop");
    // 16 hops per request, the two stream hops once per chunk (two chunks)
    expect(hops).toHaveLength(1000 * 18);
    const wrong = hops.filter((line) => line.request_id !== line.owner);
    expect(wrong).toEqual([]);
    expect(new Set(hops.map((line) => line.request_id)).size).toBe(1000);
    const sample = (await tracker.listRequests({ kind: "isolation", limit: 5 })).items;
    for (const request of sample) expect(request.counters).toEqual({ hops: 1 });
    await tracker.close();
  });

  it("tracker.work() runs each claimed request in its own scope, 1,000 of them at concurrency 50", async () => {
    const { logger, lines } = captureLogger("info");
    const tracker = await createTracker({ storage: ":memory:", logger, watchdogIntervalMs: 0 });
    const ids = new Set<string>();
    for (let i = 0; i < 1000; i++) ids.add((await tracker.createRequest({ userId: "u" })).id);
    const mismatches: string[] = [];
    let done = 0;
    let finished: () => void = () => {};
    const allDone = new Promise<void>((resolve) => (finished = resolve));
    const worker = tracker.work({ concurrency: 50, pollMs: 5 }, async (request) => {
      await delay(request.id.charCodeAt(request.id.length - 1) % 3);
      if (currentRequestId() !== request.id) mismatches.push(request.id);
      tracker.logger.info({ owner: request.id }, "working");
      if (++done === ids.size) finished();
    });
    await allDone;
    await worker.stop();
    expect(mismatches).toEqual([]);
    const working = lines.filter((line) => line.msg === "working");
    expect(working).toHaveLength(1000);
    for (const line of working) expect(line.request_id).toBe(line.owner);
    await tracker.close();
  });

  it("shows why bindRequest exists: an unbound job on a shared pool runs in the pool's context", async () => {
    const tracker = await createTracker({
      storage: ":memory:",
      logger: captureLogger().logger,
      watchdogIntervalMs: 0,
    });
    const jobs = new JobPool(1);
    const seen: string[] = [];
    await tracker.withRequest("req-a", () =>
      jobs.run(async () => {
        seen.push(currentRequestId());
      }),
    );
    await tracker.withRequest("req-b", () =>
      jobs.run(
        bindRequest(async () => {
          seen.push(currentRequestId());
        }),
      ),
    );
    expect(seen).toEqual(["unknown", "req-b"]);
    await tracker.close();
  });
});
