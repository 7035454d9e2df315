import { useEffect, useMemo, useState } from "preact/hooks";
import { Empty, ErrorBox, Time, useApi } from "../components";
import { int, pct } from "../format";
import { type LiveMessage, subscribeLive } from "../live";
import type { AlertItem, BreakerStats } from "../types";

const MAX_ALERTS = 50;

/** A breaker's alert (it opened, its failure rate passed the threshold). */
const isBreakerAlert = (a: { name?: string }) => a.name?.startsWith("circuit_breaker") ?? false;

/**
 * Circuit breakers of this server: state, calls, failures, rejections, failure rate, and the
 * recent breaker alerts: the server's history (GET /alerts) first, then live from the stream.
 */
export function BreakersPage() {
  const breakers = useApi<{ breakers: Record<string, BreakerStats> }>("/breakers", 5000);
  const history = useApi<{ items: AlertItem[] }>(`/alerts?limit=${MAX_ALERTS * 2}`);
  const [live, setLive] = useState<LiveMessage[]>([]);
  useEffect(
    () =>
      subscribeLive({}, (m) => {
        if (m.type === "alert" && isBreakerAlert(m)) setLive((a) => [m, ...a].slice(0, MAX_ALERTS));
      }),
    [],
  );
  // The stream may repeat what the history already has (both saw the same alert).
  const alerts = useMemo(() => {
    const seen = new Set<string>();
    const merged: { at: string; name: string; message: string }[] = [];
    for (const a of [...live, ...(history.data?.items ?? []).filter(isBreakerAlert)]) {
      const key = `${a.at}|${a.name ?? ""}|${a.message ?? ""}`;
      if (seen.has(key)) continue;
      seen.add(key);
      merged.push({ at: a.at, name: a.name ?? "", message: a.message ?? "" });
    }
    return merged.sort((x, y) => y.at.localeCompare(x.at)).slice(0, MAX_ALERTS);
  }, [live, history.data]);
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
          <p class="muted">
            No breaker alert since this server started; new ones appear here live.
          </p>
        ) : (
          <ul class="alerts" id="alerts">
            {alerts.map((a, i) => (
              <li key={i} data-alert={a.name}>
                <Time iso={a.at} /> <strong>{a.name}</strong> {a.message}
              </li>
            ))}
          </ul>
        )}
      </div>
    </section>
  );
}
