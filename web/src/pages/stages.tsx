import { withQuery } from "../api";
import { Empty, ErrorBox, useApi } from "../components";
import { TenantFilter, tenantOf, TextFilter, Toolbar, WindowPicker, windowOf } from "../filters";
import { duration, int, pct } from "../format";
import type { Route } from "../router";
import type { StageStat, Whoami } from "../types";

/** The stage breakdown for a window and kind, the bottleneck (largest share of time) first. */
export function StagesPage({ route, me }: { route: Route; me: Whoami }) {
  const window = windowOf(route);
  const kind = route.query.get("kind") || undefined;
  const stages = useApi<StageStat[]>(
    withQuery("/stats/stages", { window, kind, tenantId: tenantOf(route, me) }),
  );
  return (
    <section aria-labelledby="page-title">
      <div class="page-head">
        <h1 id="page-title">Stages</h1>
        <Toolbar>
          <WindowPicker route={route} />
          <TextFilter route={route} name="kind" label="Kind" placeholder="all kinds" />
          <TenantFilter route={route} me={me} />
        </Toolbar>
      </div>
      {stages.error ? <ErrorBox error={stages.error} /> : null}
      {stages.data && stages.data.length === 0 && (
        <Empty>
          No stages in the last {window}: wrap work in <code>trackStage(name, fn)</code>, or run{" "}
          <code>npx reqtrack demo</code>.
        </Empty>
      )}
      {stages.data && stages.data.length > 0 && (
        <div class="table-wrap card">
          <table>
            <thead>
              <tr>
                <th>Stage</th>
                <th>Share of time</th>
                <th class="num">Runs</th>
                <th class="num">Failed</th>
                <th class="num">Failure rate</th>
                <th class="num">p50</th>
                <th class="num">p95</th>
                <th class="num">Total</th>
              </tr>
            </thead>
            <tbody>
              {stages.data.map((s) => (
                <tr key={s.name}>
                  <td>{s.name}</td>
                  <td>
                    <div class="share" title={pct(s.sharePct)}>
                      <div style={{ width: `${s.sharePct}%` }} />
                      <span>{pct(s.sharePct)}</span>
                    </div>
                  </td>
                  <td class="num">{int(s.count)}</td>
                  <td class="num">{int(s.failed)}</td>
                  <td class="num">{pct(s.failureRatePct)}</td>
                  <td class="num">{duration(s.p50Ms)}</td>
                  <td class="num">{duration(s.p95Ms)}</td>
                  <td class="num">{duration(s.totalMs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
