import { useMemo } from "preact/hooks";
import { withQuery } from "../api";
import { Chart, Empty, ErrorBox, Stat, useApi } from "../components";
import { TenantFilter, tenantOf, Toolbar, WindowPicker, windowOf } from "../filters";
import { duration, int, pct, usd } from "../format";
import { Link, type Route } from "../router";
import {
  type BreakerStats,
  type Overview,
  type QueueStatus,
  type SeriesPoint,
  STATUSES,
  type Whoami,
} from "../types";

/** The series each window is drawn with: minutes for an hour, hours up to a week, then days. */
const SERIES: Record<string, { hours: number; bucket: string }> = {
  "1h": { hours: 1, bucket: "minute" },
  "24h": { hours: 24, bucket: "hour" },
  "7d": { hours: 168, bucket: "hour" },
  "30d": { hours: 720, bucket: "day" },
};

const REFRESH_MS = 5000;

/** The overview: figures for a window and tenant, charts over time, queue and breakers. */
export function OverviewPage({ route, me }: { route: Route; me: Whoami }) {
  const window = windowOf(route);
  const tenantId = tenantOf(route, me);
  const overview = useApi<Overview>(withQuery("/stats/overview", { window, tenantId }), REFRESH_MS);
  const series = useApi<SeriesPoint[]>(
    withQuery("/stats/timeseries", { ...SERIES[window], tenantId }),
    REFRESH_MS,
  );
  const queue = useApi<QueueStatus>(withQuery("/queue/status", { tenantId }), REFRESH_MS);
  const breakers = useApi<{ breakers: Record<string, BreakerStats> }>("/breakers", REFRESH_MS);
  const o = overview.data;

  const charts = useMemo(() => {
    const points = series.data ?? [];
    const x = points.map((p) => Date.parse(p.start) / 1000);
    const failed = (p: SeriesPoint) => p.countsByStatus.failed + p.countsByStatus.timeout;
    return {
      x,
      traffic: [
        { label: "requests", values: points.map((p) => p.total), color: "#3b82f6", format: int },
        { label: "failures", values: points.map(failed), color: "#ef4444", format: int },
      ],
      latency: [
        {
          label: "p50",
          values: points.map((p) => p.latencyMs.p50),
          color: "#10b981",
          format: duration,
        },
        {
          label: "p95",
          values: points.map((p) => p.latencyMs.p95),
          color: "#f59e0b",
          format: duration,
        },
      ],
      cost: [
        { label: "cost", values: points.map((p) => p.costUsd), color: "#8b5cf6", format: usd },
      ],
    };
  }, [series.data]);

  return (
    <section aria-labelledby="page-title">
      <div class="page-head">
        <h1 id="page-title">Overview</h1>
        <Toolbar>
          <WindowPicker route={route} />
          <TenantFilter route={route} me={me} />
        </Toolbar>
      </div>
      {overview.error ? <ErrorBox error={overview.error} /> : null}
      {o && o.total === 0 && (
        <Empty>
          No requests in the last {window}
          {tenantId ? ` for tenant ${tenantId}` : ""} yet: run <code>npx reqtrack demo</code>, or
          start the server with <code>npm start</code> (<code>serve --demo</code>) for a live
          trickle.
        </Empty>
      )}
      {o && (
        <>
          <div class="stats" id="overview-stats">
            <Stat label="Requests" value={int(o.total)} />
            {STATUSES.map((s) => (
              <Stat key={s} label={s} value={int(o.countsByStatus[s])} tone={`s-${s}`} />
            ))}
            <Stat label="Failure rate" value={pct(o.failureRatePct)} />
            <Stat label="Cost" value={usd(o.costUsd)} />
          </div>
          <div class="stats">
            <Stat label="Latency p50" value={duration(o.latencyMs.p50)} />
            <Stat label="Latency p95" value={duration(o.latencyMs.p95)} />
            <Stat label="Latency p99" value={duration(o.latencyMs.p99)} />
            <Stat label="Queue p50" value={duration(o.queueMs.p50)} />
            <Stat label="Queue p95" value={duration(o.queueMs.p95)} />
            <Stat label="Throughput" value={`${(o.throughputPerMin ?? 0).toFixed(2)}/min`} />
          </div>
        </>
      )}
      {series.error ? <ErrorBox error={series.error} /> : null}
      {series.data && (
        <div class="charts">
          <Chart title="Requests and failures" x={charts.x} series={charts.traffic} />
          <Chart title="Latency" x={charts.x} series={charts.latency} />
          <Chart title="Cost" x={charts.x} series={charts.cost} />
        </div>
      )}
      <div class="grid2">
        <div class="card">
          <h2>Queue</h2>
          {o && (
            <div class="stats compact">
              {Object.entries(o.queueDepthByLane).map(([lane, n]) => (
                <Stat key={lane} label={`${lane} lane`} value={int(n)} />
              ))}
            </div>
          )}
          {queue.error ? <ErrorBox error={queue.error} /> : null}
          {queue.data && (
            <div class="stats compact">
              <Stat label="Running now" value={int(queue.data.running)} />
              <Stat
                label="Oldest pending"
                value={queue.data.oldestPending ? duration(queue.data.oldestPending.ageMs) : "none"}
              />
              <Stat label="Leases expiring" value={int(queue.data.leasesExpiringSoon.length)} />
              <Stat label="Expired leases" value={int(queue.data.expiredLeases.length)} />
            </div>
          )}
          <Link href="/queue">Queue details →</Link>
        </div>
        <div class="card">
          <h2>Breakers</h2>
          {breakers.data && <BreakerList breakers={breakers.data.breakers} />}
          <Link href="/breakers">Breaker details →</Link>
        </div>
      </div>
    </section>
  );
}

/** Breaker names with their state. */
export function BreakerList({ breakers }: { breakers: Record<string, BreakerStats> }) {
  const entries = Object.entries(breakers);
  if (entries.length === 0)
    return (
      <Empty>
        No circuit breakers in this server yet: wrap a call with{" "}
        <code>tracker.breaker(name, fn)</code> and it shows here.
      </Empty>
    );
  return (
    <ul class="breakers">
      {entries.map(([name, b]) => (
        <li key={name}>
          <span class={`badge b-${b.state}`}>{b.state}</span> {name}{" "}
          <span class="muted">{pct(b.failureRatePct)} failures</span>
        </li>
      ))}
    </ul>
  );
}
