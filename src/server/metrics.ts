import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Tracker } from "../tracker/tracker.js";

/**
 * Prometheus metrics (prom-client), fed by the tracker's live changes: requests by status
 * and kind, a duration histogram, queue depth by lane (read at scrape time), costs, and
 * HTTP request durations. One registry per server, so tests and servers never share one.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly http: Histogram<"method" | "route" | "status_code">;
  private readonly unsubscribe: () => void;

  constructor(tracker: Tracker) {
    // prom-client's names already start with process_ or nodejs_: "reqtrack_" alone avoids
    // reqtrack_process_process_*. Its *_active_*_total are gauges, which promtool rejects
    // (`_total` is for counters); the same figures stay, by type, in the gauges without it.
    collectDefaultMetrics({ register: this.registry, prefix: "reqtrack_" });
    for (const name of ["resources", "handles", "requests"]) {
      this.registry.removeSingleMetric(`reqtrack_nodejs_active_${name}_total`);
    }
    const requests = new Counter({
      name: "reqtrack_requests_total",
      help: "Requests entering each status, by kind",
      labelNames: ["status", "kind"] as const,
      registers: [this.registry],
    });
    // Plus one label per `labelFields` entry (e.g. aspect_ratio), from the request's input.
    const labelFields = tracker.labelFields;
    const duration = new Histogram<string>({
      name: "reqtrack_request_duration_seconds",
      help: "Run time of finished requests (completedAt - startedAt)",
      labelNames: ["status", "kind", ...labelFields],
      buckets: [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600],
      registers: [this.registry],
    });
    const cost = new Counter({
      name: "reqtrack_cost_usd_total",
      help: "Costs recorded, in USD, by service",
      labelNames: ["service"] as const,
      registers: [this.registry],
    });
    new Gauge({
      name: "reqtrack_queue_depth",
      help: "Pending requests by lane",
      labelNames: ["lane"] as const,
      registers: [this.registry],
      async collect() {
        const depth = await tracker.queueDepth();
        for (const lane of ["high", "normal", "low"] as const) this.set({ lane }, depth[lane]);
      },
    });
    const budgetLabels = ["budget", "name", "tenant"] as const;
    new Gauge({
      name: "reqtrack_budget_spend_usd",
      help: "Spend of each cost budget in its current period, in USD",
      labelNames: budgetLabels,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const b of tracker.budgets.gauges()) {
          this.set({ budget: b.id, name: b.name, tenant: b.tenantId ?? "" }, b.spentUsd);
        }
      },
    });
    new Gauge({
      name: "reqtrack_budget_limit_usd",
      help: "Limit of each cost budget per period, in USD",
      labelNames: budgetLabels,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const b of tracker.budgets.gauges()) {
          this.set({ budget: b.id, name: b.name, tenant: b.tenantId ?? "" }, b.limitUsd);
        }
      },
    });
    this.http = new Histogram({
      name: "reqtrack_http_request_duration_seconds",
      help: "HTTP request durations by route",
      labelNames: ["method", "route", "status_code"] as const,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [this.registry],
    });
    this.unsubscribe = tracker.subscribe((event) => {
      if (event.type === "request.created") {
        requests.inc({ status: "pending", kind: event.kind ?? "" });
      } else if (event.type === "request.updated") {
        const kind = event.kind ?? "";
        if (typeof event.data.to === "string") {
          requests.inc({ status: event.data.to, kind });
          if (typeof event.data.durationMs === "number") {
            const labels = (event.data.labels ?? {}) as Record<string, string>;
            const extra = Object.fromEntries(labelFields.map((f) => [f, labels[f] ?? ""]));
            duration.observe(
              { status: event.data.to, kind, ...extra },
              event.data.durationMs / 1000,
            );
          }
        }
        if (typeof event.data.costAddedMicros === "number") {
          cost.inc({ service: String(event.data.service) }, event.data.costAddedMicros / 1_000_000);
        }
      }
    });
  }

  /** Gauges of the SSE stream: clients connected, and clients cut off for not reading. */
  watchStream(hub: { readonly size: number; readonly dropped: number }): void {
    new Gauge({
      name: "reqtrack_stream_clients",
      help: "SSE clients connected to /api/v1/stream",
      registers: [this.registry],
      collect() {
        this.set(hub.size);
      },
    });
    new Gauge({
      name: "reqtrack_stream_clients_dropped",
      help: "SSE clients disconnected since start because they left too much unread",
      registers: [this.registry],
      collect() {
        this.set(hub.dropped);
      },
    });
  }

  close(): void {
    this.unsubscribe();
  }
}
