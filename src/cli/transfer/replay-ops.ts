import { createHash } from "node:crypto";
import type { Json } from "../backend.js";

/** One line of an NDJSON export: a request with everything recorded about it. */
export interface ExportLine {
  request: Json;
  stages: Json[];
  costs: Json[];
  events: Json[];
}

const ms = (iso: unknown) => Date.parse(String(iso));
const orUndefined = (value: unknown) => (value === null ? undefined : value);
const CREATE_FIELDS = [
  "id",
  "userId",
  "channelId",
  "tenantId",
  "sessionId",
  "kind",
  "source",
  "initialMessage",
  "priority",
  "input",
  "tags",
  "deadline",
  "intent",
  "entities",
  "parentId",
  "correlationId",
  "maxAttempts",
  "timeoutMs",
] as const;

/** The text after "a -> b: " in a status event's message: the error or reason it carried. */
const reasonOf = (message: unknown) => /^\w+ -> \w+: ([\s\S]*)$/.exec(String(message))?.[1];

/**
 * The ingest ops that rebuild `line` in another store: its creation, then its history
 * replayed at the recorded times (status changes, stages, events, costs), then counters and
 * a soft delete. Op ids are derived from the request id and the op's position, so importing
 * the same line twice sends the same ids and the store applies them once.
 */
export function replayOps(line: ExportLine): Json[] {
  const r = line.request;
  const id = String(r.id);
  const prefix = `imp:${createHash("sha256").update(id).digest("base64url").slice(0, 22)}`;
  let n = 0;
  const ops: Json[] = [];
  const push = (at: number, op: Json) =>
    ops.push({ opId: `${prefix}:${++n}`, at, requestId: id, ...op });

  const request: Json = {};
  for (const f of CREATE_FIELDS) if (r[f] !== null && r[f] !== undefined) request[f] = r[f];
  push(ms(r.createdAt), { type: "create", request });

  const costs = [...line.costs].sort((a, b) => ms(a.ts) - ms(b.ts));
  let nextCost = 0;
  const costsUntil = (at: number) => {
    while (nextCost < costs.length && ms(costs[nextCost]?.ts) < at)
      addCost(costs[nextCost++] as Json);
  };
  const addCost = (c: Json) =>
    push(ms(c.ts), {
      type: "cost",
      cost: {
        service: c.service,
        amountUsd: Number(c.amountMicros) / 1_000_000,
        ...(c.usage !== null ? { usage: c.usage } : {}),
        ...(c.stage !== null ? { stage: c.stage } : {}),
      },
    });

  const stageRuns = new Map<string, number>();
  const stageRecord = (name: string) =>
    line.stages.find((s) => s.name === name && s.attempt === stageRuns.get(name));
  const events = [...line.events].sort((a, b) => Number(a.seq) - Number(b.seq));
  for (const e of events) {
    const at = ms(e.ts);
    costsUntil(at);
    const data = (e.data ?? {}) as Json;
    const stage = typeof e.stage === "string" ? e.stage : undefined;
    switch (e.type) {
      case "request_created":
        break; // the create op writes it again
      case "status_changed": {
        // A requeue (lease expired, released) is the watchdog's, not an ingestible op.
        if (data.reason !== undefined) break;
        const to = String(data.to);
        const why = reasonOf(e.message);
        const op: Json = { type: "transition", to };
        if (to === "running" && r.workerId) op.workerId = r.workerId;
        if (to === "completed" && r.result !== null) op.result = r.result;
        if ((to === "failed" || to === "timeout") && why !== undefined) {
          op.error = { message: why, ...(stage ? { stage } : {}) };
        }
        if (to === "cancelled" && why !== undefined) op.reason = why;
        push(at, op);
        break;
      }
      case "stage_started":
        if (!stage) break;
        stageRuns.set(stage, (stageRuns.get(stage) ?? 0) + 1);
        push(at, { type: "stage", stage, action: "start" });
        break;
      case "stage_completed":
      case "stage_failed": {
        if (!stage) break;
        const s = stageRecord(stage);
        if (e.type === "stage_completed") {
          push(at, { type: "stage", stage, action: "complete", output: orUndefined(s?.output) });
        } else {
          const failure: Json = {
            message: String(s?.errorMessage ?? "failed"),
            retryable: s?.retryable === true,
          };
          if (s?.errorDetails !== null && s?.errorDetails !== undefined)
            failure.details = s.errorDetails;
          push(at, { type: "stage", stage, action: "fail", failure });
        }
        break;
      }
      default:
        push(at, {
          type: "event",
          event: {
            type: e.type,
            message: e.message,
            severity: e.severity,
            ...(stage ? { stage } : {}),
            ...(e.data !== null ? { data: e.data } : {}),
          },
        });
    }
  }
  costsUntil(Number.POSITIVE_INFINITY);
  const updated = ms(r.updatedAt);
  for (const [counter, by] of Object.entries((r.counters ?? {}) as Record<string, number>)) {
    push(updated, { type: "increment", counter, by });
  }
  if (r.deletedAt !== null && r.deletedAt !== undefined) push(ms(r.deletedAt), { type: "delete" });
  return ops;
}
