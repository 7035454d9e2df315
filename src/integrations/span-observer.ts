import type * as OtelApiModule from "@opentelemetry/api";
import type { Span, Tracer } from "@opentelemetry/api";
import type { RequestScope, ScopeObserver } from "../context/scope.js";
import type { ChangeEvent } from "../core/ops.js";
import type { LiveEvent, Tracker } from "../tracker/tracker.js";

/** The @opentelemetry/api module, as `enableOpenTelemetry` loaded it. */
export type OtelApi = typeof OtelApiModule;

interface RequestSpan {
  span: Span;
  stages: Map<string, Span>;
  /** The tracker has written something for this request: its span ends with its status. */
  tracked: boolean;
  costMicros: number;
  /** Running totals per cost service (micro-USD) and per counter, by attribute name. */
  sums: Map<string, number>;
}

const ENDED = new Set(["completed", "failed", "timeout", "cancelled"]);

/**
 * Turns a tracker's committed changes into spans (see `enableOpenTelemetry`), and its request
 * scopes into the parents that outgoing calls name.
 */
export class SpanObserver implements ScopeObserver {
  private readonly requests = new Map<string, RequestSpan>();

  constructor(
    private readonly api: OtelApi,
    private readonly tracer: Tracer,
    private readonly tracker: Tracker,
    private readonly maxOpen: number,
  ) {}

  /** A request scope begins: its span starts now, so outgoing calls can name it as parent. */
  enter(scope: RequestScope): void {
    if (this.requests.has(scope.requestId)) return;
    const parent = scope.parent
      ? this.api.trace.setSpanContext(this.api.ROOT_CONTEXT, {
          traceId: scope.parent.traceId,
          spanId: scope.parent.spanId,
          traceFlags: Number.parseInt(scope.parent.flags, 16),
          isRemote: true,
        })
      : undefined;
    this.start(scope.requestId, parent);
  }

  /** A scope whose request the tracker never wrote (a bare `withRequest`) ends its span. */
  exit(scope: RequestScope): void {
    const entry = this.requests.get(scope.requestId);
    if (!entry || entry.tracked || scope.recorded) return;
    // Writes made in the scope may still be on their way to the store: look after them.
    void this.tracker
      .flush()
      .catch(() => undefined)
      .then(() => {
        if (this.requests.get(scope.requestId) === entry && !entry.tracked)
          this.end(scope.requestId);
      });
  }

  spanContext(scope: RequestScope): { traceId: string; spanId: string } | undefined {
    const entry = this.requests.get(scope.requestId);
    if (!entry) return undefined;
    const span = (scope.stage !== undefined && entry.stages.get(scope.stage)) || entry.span;
    const { traceId, spanId } = span.spanContext();
    return { traceId, spanId };
  }

  onChange(event: LiveEvent): void {
    if (event.type === "alert" || event.type === "resync") return;
    let entry = this.requests.get(event.requestId);
    if (!entry && (event.type === "request.created" || event.data.to === "running")) {
      entry = this.start(event.requestId, undefined);
    }
    if (!entry) return;
    entry.tracked = true;
    if (event.kind) entry.span.updateName(event.kind);
    entry.span.setAttributes({
      "reqtrack.kind": event.kind ?? undefined,
      "reqtrack.tenant_id": event.tenantId ?? undefined,
      "reqtrack.status": event.status,
    });
    if (event.type === "stage.updated") this.onStage(entry, event);
    else if (event.type === "event.logged") this.onEvent(entry, event);
    else this.onRequest(event.requestId, entry, event);
  }

  endAll(): void {
    for (const id of [...this.requests.keys()]) this.end(id);
  }

  private start(
    requestId: string,
    parent: ReturnType<OtelApi["trace"]["setSpanContext"]> | undefined,
  ): RequestSpan {
    const span = this.tracer.startSpan(
      "request",
      { attributes: { "reqtrack.request_id": requestId } },
      parent,
    );
    const entry: RequestSpan = {
      span,
      stages: new Map(),
      tracked: false,
      costMicros: 0,
      sums: new Map(),
    };
    this.requests.set(requestId, entry);
    if (this.requests.size > this.maxOpen) {
      const oldest = this.requests.keys().next().value as string;
      this.requests.get(oldest)?.span.setAttribute("reqtrack.evicted", true);
      this.end(oldest);
    }
    return entry;
  }

  private onRequest(requestId: string, entry: RequestSpan, event: ChangeEvent): void {
    const { data } = event;
    if (event.type === "request.created") {
      entry.span.setAttributes({
        "reqtrack.user_id": str(data.userId),
        "reqtrack.priority": typeof data.priority === "number" ? data.priority : undefined,
      });
    }
    if (typeof data.costAddedMicros === "number") {
      entry.costMicros += data.costAddedMicros;
      entry.span.setAttribute("reqtrack.cost_usd", entry.costMicros / 1_000_000);
      if (typeof data.service === "string") {
        const key = `reqtrack.cost.${data.service}_usd`;
        entry.sums.set(key, (entry.sums.get(key) ?? 0) + data.costAddedMicros);
        entry.span.setAttribute(key, (entry.sums.get(key) ?? 0) / 1_000_000);
      }
    }
    if (typeof data.counter === "string" && typeof data.by === "number") {
      const key = `reqtrack.counter.${data.counter}`;
      entry.sums.set(key, (entry.sums.get(key) ?? 0) + data.by);
      entry.span.setAttribute(key, entry.sums.get(key) ?? 0);
    }
    if (typeof data.attempts === "number")
      entry.span.setAttribute("reqtrack.attempts", data.attempts);
    if (typeof data.to === "string" && ENDED.has(data.to)) {
      const ok = data.to === "completed";
      entry.span.setStatus(
        ok
          ? { code: this.api.SpanStatusCode.OK }
          : { code: this.api.SpanStatusCode.ERROR, message: str(data.errorMessage) ?? data.to },
      );
      this.end(requestId);
    }
  }

  private onStage(entry: RequestSpan, event: ChangeEvent): void {
    const stage = str(event.data.stage);
    if (stage === undefined) return;
    if (event.data.status === "running") {
      const parent = this.api.trace.setSpan(this.api.ROOT_CONTEXT, entry.span);
      entry.stages.get(stage)?.end();
      entry.stages.set(
        stage,
        this.tracer.startSpan(stage, { attributes: { "reqtrack.stage": stage } }, parent),
      );
      return;
    }
    const span = entry.stages.get(stage);
    if (!span) return;
    if (event.data.status === "failed") {
      span.setStatus({
        code: this.api.SpanStatusCode.ERROR,
        message: str(event.data.errorMessage) ?? "failed",
      });
    } else if (event.data.status === "completed") {
      span.setStatus({ code: this.api.SpanStatusCode.OK });
    }
    span.end();
    entry.stages.delete(stage);
  }

  private onEvent(entry: RequestSpan, event: ChangeEvent): void {
    const { type, severity, message, stage } = event.data;
    const target = (typeof stage === "string" && entry.stages.get(stage)) || entry.span;
    target.addEvent(str(type) ?? "event", {
      "reqtrack.severity": str(severity),
      "reqtrack.message": str(message),
      "reqtrack.stage": str(stage),
    });
  }

  private end(requestId: string): void {
    const entry = this.requests.get(requestId);
    if (!entry) return;
    this.requests.delete(requestId);
    for (const span of entry.stages.values()) span.end();
    entry.span.end();
  }
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}
