import { useMemo } from "preact/hooks";
import { withQuery } from "../api";
import { Chart, Empty, ErrorBox, Stat, useApi } from "../components";
import { costReportCsv } from "../csv";
import { TenantFilter, tenantOf, TextFilter, Toolbar, WindowPicker, windowOf } from "../filters";
import { int, usd } from "../format";
import type { Route } from "../router";
import type { CostReport, Overview, SeriesPoint, Whoami } from "../types";

const HOURS: Record<string, number> = { "1h": 1, "24h": 24, "7d": 168, "30d": 720 };

/** The cost report for a window: by service, kind, tenant and session, a chart, CSV export. */
export function CostsPage({ route, me }: { route: Route; me: Whoami }) {
  const window = windowOf(route);
  const hours = HOURS[window] ?? 24;
  const tenantId = tenantOf(route, me);
  const sessionId = route.query.get("sessionId") || undefined;
  // The period is the overview's window as the server counts it (its clock, whole hours),
  // so the total here equals the overview's cost, whatever the viewer's clock says.
  const window_ = useApi<Overview>(withQuery("/stats/overview", { window, tenantId }));
  const from = window_.data?.from;
  const report = useApi<CostReport>(
    from ? withQuery("/costs/report", { tenantId, sessionId, from, to: window_.data?.to }) : null,
  );
  const series = useApi<SeriesPoint[]>(
    withQuery("/stats/timeseries", {
      hours,
      bucket: hours <= 1 ? "minute" : hours <= 168 ? "hour" : "day",
      tenantId,
    }),
  );
  const chart = useMemo(() => {
    const points = series.data ?? [];
    return {
      x: points.map((p) => Date.parse(p.start) / 1000),
      series: [
        { label: "cost", values: points.map((p) => p.costUsd), color: "#8b5cf6", format: usd },
      ],
    };
  }, [series.data]);
  const r = report.data;
  const csvHref = useMemo(
    () => (r ? `data:text/csv;charset=utf-8,${encodeURIComponent(costReportCsv(r))}` : ""),
    [r],
  );

  return (
    <section aria-labelledby="page-title">
      <div class="page-head">
        <h1 id="page-title">Costs</h1>
        <Toolbar>
          <WindowPicker route={route} />
          <TenantFilter route={route} me={me} />
          <TextFilter route={route} name="sessionId" label="Session" />
          {r && (
            <a
              class="button"
              id="csv-export"
              href={csvHref}
              download={`reqtrack-costs-${window}.csv`}
            >
              Export CSV
            </a>
          )}
        </Toolbar>
      </div>
      {window_.error ? <ErrorBox error={window_.error} /> : null}
      {report.error ? <ErrorBox error={report.error} /> : null}
      {r && (
        <>
          <div class="stats">
            <Stat label="Total cost" value={usd(r.totalCostUsd)} />
            <Stat label="Requests" value={int(r.totalRequests)} />
            <Stat label="Per request" value={usd(r.averageCostPerRequest)} />
          </div>
          {r.totalRequests === 0 && (
            <Empty>
              No costs in this period: record them with <code>tracker.recordCost(id, …)</code>, or
              run <code>npx reqtrack demo</code>.
            </Empty>
          )}
        </>
      )}
      {series.data && <Chart title="Cost over time" x={chart.x} series={chart.series} />}
      {r && r.totalRequests > 0 && (
        <div class="grid2">
          <Breakdown
            title="By service"
            head={["Service", "Records", "Cost"]}
            rows={r.byService.map((s) => [s.service, int(s.records), usd(s.costUsd)])}
          />
          <Breakdown
            title="By kind"
            head={["Kind", "Requests", "Cost"]}
            rows={r.byOperation.map((k) => [k.kind ?? "(none)", int(k.requests), usd(k.costUsd)])}
          />
          <Breakdown
            title="By tenant"
            head={["Tenant", "Requests", "Cost"]}
            rows={r.byTenant.map((t) => [t.tenantId ?? "(none)", int(t.requests), usd(t.costUsd)])}
          />
          <Breakdown
            title="Top sessions"
            head={["Session", "Requests", "Cost"]}
            rows={[
              ...r.bySession.top.map((s) => [s.sessionId, int(s.requests), usd(s.costUsd)]),
              ...(r.bySession.other.sessions > 0
                ? [
                    [
                      `other (${r.bySession.other.sessions})`,
                      int(r.bySession.other.requests),
                      usd(r.bySession.other.costUsd),
                    ],
                  ]
                : []),
            ]}
          />
        </div>
      )}
    </section>
  );
}

function Breakdown(props: { title: string; head: string[]; rows: string[][] }) {
  return (
    <div class="card">
      <h2>{props.title}</h2>
      {props.rows.length === 0 ? (
        <p class="muted">none</p>
      ) : (
        <table class="compact">
          <thead>
            <tr>
              {props.head.map((h, i) => (
                <th key={h} class={i > 0 ? "num" : ""}>
                  {h}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {props.rows.map((row) => (
              <tr key={row[0]}>
                {row.map((v, i) => (
                  <td key={i} class={i > 0 ? "num" : ""}>
                    {v}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
