import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { ErrorBox, StatusBadge, Time } from "../components";
import { duration, usd } from "../format";
import { Link } from "../router";
import type { Comparison, RequestDetail, Whoami } from "../types";

const href = (id: string) => `/requests/${encodeURIComponent(id)}`;

/**
 * Two runs side by side (a request and its replay): status, times, cost per service, result.
 * It reads the two requests whole (each one call, checked against the key's tenant like any
 * read), since the page shows their costs and results in full.
 */
export function ComparePage({ id, otherId }: { id: string; otherId: string; me: Whoami }) {
  const [data, setData] = useState<Comparison | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let stale = false;
    Promise.all([api<RequestDetail>(href(id)), api<RequestDetail>(href(otherId))]).then(
      ([original, replay]) => !stale && setData({ original, replay }),
      (e: unknown) => !stale && setError(e),
    );
    return () => {
      stale = true;
    };
  }, [id, otherId]);

  if (error) return <ErrorBox error={error} />;
  if (!data) return <p class="loading">Loading…</p>;
  const { original: a, replay: b } = data;
  const services = [...new Set([...a.costs, ...b.costs].map((c) => c.service))].sort();
  const spent = (r: RequestDetail, service: string) =>
    r.costs.filter((c) => c.service === service).reduce((sum, c) => sum + c.amountUsd, 0);
  const row = (label: string, left: ComponentChildren, right: ComponentChildren, key = label) => (
    <tr key={key} data-row={key}>
      <th scope="row">{label}</th>
      <td>{left}</td>
      <td>{right}</td>
    </tr>
  );
  return (
    <section aria-labelledby="page-title">
      <div class="page-head">
        <h1 id="page-title">Compare runs</h1>
      </div>
      <div class="card table-wrap">
        <table class="compare">
          <thead>
            <tr>
              <th />
              <th>Original</th>
              <th>Replay</th>
            </tr>
          </thead>
          <tbody>
            {row(
              "Id",
              <Link href={href(a.id)} class="mono">
                {a.id}
              </Link>,
              <Link href={href(b.id)} class="mono">
                {b.id}
              </Link>,
            )}
            {row("Status", <StatusBadge status={a.status} />, <StatusBadge status={b.status} />)}
            {row("Kind", a.kind, b.kind)}
            {row("Created", <Time iso={a.createdAt} />, <Time iso={b.createdAt} />)}
            {row("Queue wait", duration(a.queueMs), duration(b.queueMs))}
            {row("Run time", duration(a.durationMs), duration(b.durationMs))}
            {row("Attempts", a.attempts, b.attempts)}
            {row("Stages", a.stages.length, b.stages.length)}
            {services.map((s) =>
              row(`Cost: ${s}`, usd(spent(a, s)), usd(spent(b, s)), `cost-${s}`),
            )}
            {row("Cost", usd(a.costUsd), usd(b.costUsd), "cost-total")}
            {row("Error", a.errorMessage ?? "–", b.errorMessage ?? "–")}
            {row(
              "Result",
              <pre class="json">{JSON.stringify(a.result, null, 2)}</pre>,
              <pre class="json">{JSON.stringify(b.result, null, 2)}</pre>,
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
