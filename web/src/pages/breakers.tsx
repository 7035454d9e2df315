import { useEffect, useState } from "preact/hooks";
import { Empty, ErrorBox, Time, useApi } from "../components";
import { int, pct } from "../format";
import { type LiveMessage, subscribeLive } from "../live";
import type { BreakerStats } from "../types";

/**
 * Circuit breakers of this server: state, calls, failures, rejections, failure rate, and the
 * alerts the live stream brought since the page opened (the API keeps no alert history).
 */
export function BreakersPage() {
  const breakers = useApi<{ breakers: Record<string, BreakerStats> }>("/breakers", 5000);
  const [alerts, setAlerts] = useState<LiveMessage[]>([]);
  useEffect(
    () =>
      subscribeLive({}, (m) => {
        if (m.type === "alert") setAlerts((a) => [m, ...a].slice(0, 50));
      }),
    [],
  );
  const entries = Object.entries(breakers.data?.breakers ?? {});
  return (
    <section aria-labelledby="page-title">
      <div class="page-head">
        <h1 id="page-title">Breakers</h1>
      </div>
      {breakers.error ? <ErrorBox error={breakers.error} /> : null}
      {breakers.data && entries.length === 0 && (
        <Empty>
          No circuit breakers in this server yet: wrap an upstream call with{" "}
          <code>tracker.breaker("gemini_api", callGemini)</code> and it shows here.
        </Empty>
      )}
      {entries.length > 0 && (
        <div class="card table-wrap">
          <table>
            <thead>
              <tr>
                <th>Breaker</th>
                <th>State</th>
                <th class="num">Calls</th>
                <th class="num">Failures</th>
                <th class="num">Rejected</th>
                <th class="num">Failure rate</th>
              </tr>
            </thead>
            <tbody>
              {entries.map(([name, b]) => (
                <tr key={name}>
                  <td>{name}</td>
                  <td>
                    <span class={`badge b-${b.state}`}>{b.state}</span>
                  </td>
                  <td class="num">{int(b.totalCalls)}</td>
                  <td class="num">{int(b.totalFailures)}</td>
                  <td class="num">{int(b.totalRejected)}</td>
                  <td class="num">{pct(b.failureRatePct)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div class="card">
        <h2>Recent alerts</h2>
        {alerts.length === 0 ? (
          <p class="muted">No alert since this page opened; new ones appear here live.</p>
        ) : (
          <ul class="alerts">
            {alerts.map((a, i) => (
              <li key={i}>
                <Time iso={a.at} /> <strong>{a.name}</strong> {a.message}
              </li>
            ))}
          </ul>
        )}
      </div>
    </section>
  );
}
