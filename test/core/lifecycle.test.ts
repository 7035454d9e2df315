import { describe, expect, it } from "vitest";
import { InvalidTransitionError } from "../../src/core/errors.js";
import {
  canTransition,
  type LifecycleState,
  planTransition,
  sanitizeErrorMessage,
  timeoutMessage,
} from "../../src/core/lifecycle.js";
import { REQUEST_STATUSES, type RequestStatus } from "../../src/core/types.js";

const ALLOWED: Record<RequestStatus, RequestStatus[]> = {
  pending: ["running", "cancelled", "timeout"],
  running: ["completed", "failed", "timeout", "cancelled"],
  completed: [],
  failed: ["pending"],
  timeout: ["pending"],
  cancelled: [],
};

const state = (status: RequestStatus, overrides: Partial<LifecycleState> = {}): LifecycleState => ({
  status,
  createdAt: 1000,
  startedAt: status === "pending" ? null : 1500,
  completedAt: null,
  queueMs: null,
  durationMs: null,
  attempts: status === "pending" ? 0 : 1,
  maxAttempts: 3,
  timeoutMs: 300_000,
  workerId: null,
  leaseExpiresAt: null,
  leaseMs: null,
  result: null,
  errorMessage: null,
  errorStage: null,
  errorDetails: null,
  ...overrides,
});

const op = (to: RequestStatus, at = 2000) => ({
  type: "transition" as const,
  opId: "o",
  at,
  requestId: "r",
  to,
});

describe("lifecycle state machine", () => {
  for (const from of REQUEST_STATUSES) {
    for (const to of REQUEST_STATUSES) {
      const allowed = from === to || ALLOWED[from].includes(to);
      it(`${allowed ? "allows" : "rejects"} ${from} -> ${to}`, () => {
        expect(canTransition(from, to)).toBe(allowed);
        if (allowed) {
          expect(planTransition(state(from), op(to)).next.status).toBe(to);
        } else {
          expect(() => planTransition(state(from), op(to))).toThrowError(InvalidTransitionError);
          expect(() => planTransition(state(from), op(to))).toThrowError(
            `Invalid status transition: ${from} -> ${to}`,
          );
        }
      });
    }
  }

  it("computes queueMs on start and durationMs on every terminal status of a started run", () => {
    const started = planTransition(state("pending"), op("running", 1250)).next;
    expect(started).toMatchObject({ startedAt: 1250, queueMs: 250, attempts: 1 });
    for (const to of ["completed", "failed", "timeout", "cancelled"] as const) {
      expect(planTransition(started, op(to, 1900)).next).toMatchObject({
        completedAt: 1900,
        durationMs: 650,
      });
    }
  });

  it("has no duration for a request that never started", () => {
    expect(planTransition(state("pending"), op("cancelled", 5000)).next).toMatchObject({
      completedAt: 5000,
      durationMs: null,
    });
  });

  it("treats a same-status update as a no-op that refreshes completedAt when terminal", () => {
    const running = state("running");
    const same = planTransition(running, op("running", 9000));
    expect(same).toEqual({ next: running, noop: true });
    const failed = state("failed", { completedAt: 2000, durationMs: 500 });
    expect(planTransition(failed, op("failed", 2600))).toEqual({
      next: { ...failed, completedAt: 2600, durationMs: 1100 },
      noop: true,
    });
  });

  it("writes the seed-001 timeout message and lets the number follow the limit", () => {
    expect(planTransition(state("running"), op("timeout")).next.errorMessage).toBe(
      "Generation timed out after 5 minutes",
    );
    expect(timeoutMessage(60_000)).toBe("Generation timed out after 1 minute");
    expect(timeoutMessage(90_000)).toBe("Generation timed out after 90 seconds");
    expect(timeoutMessage(7_200_000)).toBe("Generation timed out after 2 hours");
  });

  it("strips credentials from error messages and caps their length", () => {
    const clean = sanitizeErrorMessage(
      "401 from https://api.example.com?api_key=abc123secret with Authorization: Bearer eyJhbGciOi.xyz sk-proj-ABCDEFGHIJKLMNOPQRSTUV",
    );
    expect(clean).not.toMatch(/abc123secret|eyJhbGciOi|ABCDEFGHIJKLMNOP/);
    expect(clean).toContain("[redacted]");
    expect(sanitizeErrorMessage("x".repeat(5000))).toHaveLength(2000);
  });
});
