import { describe, expect, it } from "vitest";
import { createdState, planTransition } from "../../src/core/lifecycle.js";
import {
  LIFECYCLE_READ,
  LIFECYCLE_WRITTEN,
  lifecycleOfRow,
  writeLifecycle,
} from "../../src/core/request-fields.js";
import { activeStageOf, type StageRun } from "../../src/core/stage-lifecycle.js";

const run = (name: string, status: string, startedAt: number, attempt = 1): StageRun => ({
  name,
  status,
  startedAt,
  attempt,
});

describe("activeStageOf: the stage a failing run stopped in", () => {
  it("prefers a running stage over a later failed one", () => {
    const stages = [run("fetch", "running", 10), run("render", "failed", 20)];
    expect(activeStageOf(stages, 0)).toBe("fetch");
  });

  it("else the last failed, by start time then attempt", () => {
    expect(activeStageOf([run("a", "failed", 10), run("b", "failed", 30)], 0)).toBe("b");
    expect(activeStageOf([run("b", "failed", 30, 2), run("a", "failed", 30, 1)], 0)).toBe("b");
    expect(activeStageOf([run("a", "failed", 30, 1), run("b", "failed", 30, 2)], 0)).toBe("b");
  });

  it("ignores completed stages and those of earlier runs", () => {
    const stages = [run("old", "failed", 5), run("done", "completed", 50)];
    expect(activeStageOf(stages, 10)).toBeNull();
    expect(activeStageOf(stages, 0)).toBe("old");
    expect(activeStageOf([], 0)).toBeNull();
  });
});

describe("the lifecycle columns of the request-field catalogue", () => {
  const pending = createdState({ createdAt: 1_000, maxAttempts: 3, timeoutMs: 60_000 });
  const running = planTransition(pending, {
    kind: "transition",
    requestId: "r1",
    to: "running",
    at: 1_500,
    workerId: "w1",
  } as never).next;

  it("reads every property of a lifecycle state, and writes all but the creation-time ones", () => {
    expect(LIFECYCLE_READ.map((x) => x.state).sort()).toEqual(Object.keys(pending).sort());
    expect(LIFECYCLE_WRITTEN.map((x) => x.state).sort()).toEqual(
      Object.keys(pending)
        .filter((key) => !["createdAt", "maxAttempts", "timeoutMs"].includes(key))
        .sort(),
    );
  });

  it("a state written into a row reads back as the same state", () => {
    const row = writeLifecycle(
      { created_at: 1_000, max_attempts: 3, timeout_ms: 60_000 } as Record<string, unknown>,
      running,
    );
    expect(row.status).toBe("running");
    expect(row.started_at).toBe(1_500);
    expect(lifecycleOfRow(row)).toEqual(running);
  });
});
